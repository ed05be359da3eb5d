"""Shared fixtures; the harness itself lives in ``esl_harness``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from esl_harness import SHARED, Harness, RawClient, start_harness, stop_harness

__all__ = ["SHARED", "Harness", "RawClient", "harness", "start_harness", "stop_harness"]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = await start_harness()
    yield h
    await stop_harness(h)
