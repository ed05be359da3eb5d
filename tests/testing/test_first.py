async def test_status(switch):
    assert "UP" in await switch.api("status")
