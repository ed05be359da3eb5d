"""Media applications on a simulated call: playback, read, play_and_get_digits, record.

No audio flows, but everything an application can observe is real: a playback lasts
as long as its file (the WAV header is read), tones and silence last what their
specification says, DTMF (from ``uuid_send_dtmf``, ``sendmsg`` or the ``sim``
far end) interrupts and is collected, and ``record`` writes a real WAV file of the
call's audio, which on a simulated call is silence.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from eventsocket.protocol.compat import atoi
from eventsocket.protocol.events import HeaderValue
from eventsocket.switch import media
from eventsocket.switch.dialstring import separate_args

if TYPE_CHECKING:
    from eventsocket.switch.calls import CallManager
    from eventsocket.switch.session import Session


def _sounds_dir(session: Session) -> Path | None:
    value = session.core.global_vars.get("sounds_dir")
    return Path(value) if value else None


def _recordings_path(session: Session, path: str) -> Path:
    target = Path(path)
    if not target.is_absolute():
        base = session.core.global_vars.get("recordings_dir") or "."
        target = Path(base) / target
    return target


async def play_file(session: Session, spec: str, terminators: str = "", *, collect: bool = False) -> str:
    """Play ``spec`` with PLAYBACK_START/STOP; returns "done", "break", "digit", "hangup" or "notfound"."""
    try:
        seconds = media.playback_duration(spec, sounds_dir=_sounds_dir(session))
    except media.MediaError as exc:
        session.core.log(
            3,
            f"Can't open {spec} ({exc})",
            file="switch_ivr_play_say.c",
            function="switch_ivr_play_file",
            line=1445,
            session_uuid=session.uuid,
        )
        session.set_variable("current_application_response", "FILE NOT FOUND")
        return "notfound"
    path_header: list[tuple[str, HeaderValue]] = []
    if spec[:13].lower() == "local_stream:":
        path_header.append(("Playback-File-Type", "local_stream"))
    elif spec[:12].lower() == "tone_stream:":
        path_header.append(("Playback-File-Type", "tone_stream"))
    path_header.append(("Playback-File-Path", spec))
    session.fire(
        "PLAYBACK_START",
        after=path_header,
        calling_file="switch_ivr_play_say.c",
        calling_function="switch_ivr_play_file",
        calling_line=1563,
    )
    started = session.core.clock.monotonic()

    def stop_digit() -> bool:
        if collect:
            return bool(session.dtmf)
        return any(d in terminators for d in session.dtmf) if terminators else False

    reason = await session.wait(None if math.isinf(seconds) else seconds, until=stop_digit)
    elapsed = session.core.clock.monotonic() - started
    ms = int(min(elapsed, seconds) * 1000)
    session.set_variable("playback_last_offset_pos", str(ms * 8))
    session.set_variable("playback_seconds", str(ms // 1000))
    session.set_variable("playback_ms", str(ms))
    session.set_variable("playback_samples", str(ms * 8))
    status = {"timeout": "done", "done": "break", "break": "break"}.get(reason, "break")
    if reason == "done" and not collect:
        # a terminator ends the playback and is consumed, as FreeSWITCH does
        while session.dtmf:
            digit = session.dtmf.popleft()
            if digit in terminators:
                session.set_variable("playback_terminator_used", digit)
                break
    session.fire(
        "PLAYBACK_STOP",
        after=[*path_header, ("Playback-Status", status)],
        calling_file="switch_ivr_play_say.c",
        calling_function="switch_ivr_play_file",
        calling_line=2044,
    )
    if reason == "timeout":
        session.set_variable("current_application_response", "FILE PLAYED")
        return "done"
    if reason == "done":
        session.set_variable("current_application_response", "FILE PLAYED")
        return "digit"
    session.set_variable(
        "current_application_response", "PLAYBACK ERROR" if reason == "hangup" else "FILE PLAYED"
    )
    return "hangup" if reason == "hangup" else "break"


async def playback(session: Session, data: str) -> None:
    terminators = session.get_variable("playback_terminators") or ""
    if terminators.lower() == "none":
        terminators = ""
    await play_file(session, data.strip(), terminators)


async def collect_digits(
    session: Session, max_digits: int, first_timeout: float, digit_timeout: float, terminators: str
) -> tuple[str, str]:
    """Collect DTMF: (digits, how it ended: "max", "terminator", "timeout", "hangup")."""
    digits = ""
    timeout = first_timeout
    while True:
        while session.dtmf:
            digit = session.dtmf.popleft()
            if terminators and digit in terminators:
                session.set_variable("read_terminator_used", digit)  # the key that ended it
                return digits, "terminator"
            digits += digit
            if max_digits and len(digits) >= max_digits:
                return digits, "max"
            timeout = digit_timeout
        reason = await session.wait(timeout, until=lambda: bool(session.dtmf), breakable=False)
        if reason == "hangup":
            return digits, "hangup"
        if reason == "timeout":
            return digits, "timeout"
        if reason == "state":
            return digits, "hangup"


async def read(session: Session, data: str) -> None:
    """``read <min> <max> <file> <var> <timeout_ms> <terminators> [<digit_timeout_ms>]``."""
    args = separate_args(data)
    if len(args) < 4:
        session.core.log(
            3,
            "Usage: <min> <max> <file> <var_name> <timeout> <terminators> <digit_timeout>",
            file="mod_dptools.c",
            function="read_function",
            line=2230,
            session_uuid=session.uuid,
        )
        return
    min_digits, max_digits = atoi(args[0]), atoi(args[1])
    sound, var_name = args[2], args[3]
    timeout = atoi(args[4]) / 1000.0 if len(args) > 4 else 5.0
    terminators = args[5] if len(args) > 5 else "#"
    digit_timeout = atoi(args[6]) / 1000.0 if len(args) > 6 else timeout
    # switch_ivr_read: clear the result and the variable, give the caller early media
    session.set_variable("read_result", None)
    session.set_variable(var_name, None)
    session.pre_answer()
    if sound and sound.lower() != "silence" and await play_file(session, sound, collect=True) == "hangup":
        return
    digits, how = await collect_digits(session, max_digits, timeout, digit_timeout, terminators)
    session.set_variable(var_name, digits or None)
    # switch_ivr_read: too few digits is a failure, a timeout stays a timeout
    if how == "hangup" or len(digits) < min_digits:
        session.set_variable("read_result", "failure")
    elif how == "timeout":
        session.set_variable("read_result", "timeout")
    else:
        session.set_variable("read_result", "success")


async def play_and_get_digits(session: Session, data: str) -> None:
    """``play_and_get_digits <min> <max> <tries> <timeout> <terminators> <file> <invalid_file> <var>
    <regexp> [<digit_timeout>] ['<failure_ext> [<failure_dp> [<failure_context>]]']``."""
    args = separate_args(data)
    if len(args) < 9:
        session.core.log(
            3,
            "Usage: <min> <max> <tries> <timeout> <terminators> <file> <invalid_file> "
            "<var_name> <regexp> [<digit_timeout>] ['<failure_ext> [failure_dp [failure_context]]']",
            file="mod_dptools.c",
            function="play_and_get_digits_function",
            line=2301,
            session_uuid=session.uuid,
        )
        return
    min_digits, max_digits, tries = atoi(args[0]), atoi(args[1]), max(1, atoi(args[2]))
    timeout = atoi(args[3]) / 1000.0
    terminators, sound, invalid, var_name, pattern = args[4], args[5], args[6], args[7], args[8]
    digit_timeout = atoi(args[9]) / 1000.0 if len(args) > 9 and args[9] else timeout
    failure = separate_args(args[10]) if len(args) > 10 else []
    try:
        regex = re.compile(pattern) if pattern else None
    except re.error:
        regex = None
    session.set_variable(var_name, None)
    for _ in range(tries):
        if not session.ready:
            return
        if sound and await play_file(session, sound, collect=True) == "hangup":
            return
        digits, how = await collect_digits(session, max_digits, timeout, digit_timeout, terminators)
        if how == "hangup":
            return
        valid = len(digits) >= min_digits and (
            regex is None
            or regex.fullmatch(digits) is not None
            or (regex.search(digits) is not None and pattern.startswith("^"))
        )
        if digits and valid:
            session.set_variable(var_name, digits)
            session.set_variable("read_result", "success")
            return
        if digits:  # an empty try keeps the last invalid input
            session.set_variable(f"{var_name}_invalid", digits)
        if invalid and invalid.lower() != "silence_stream://250" and digits:
            await play_file(session, invalid)
    session.set_variable("read_result", "failure")
    if failure and session.ready:
        session.manager.transfer(
            session,
            failure[0],
            failure[1] if len(failure) > 1 else "XML",
            failure[2] if len(failure) > 2 else session.channel.profile.context,
        )


def start_recording(session: Session, path: str, limit: float = 0.0) -> None:
    """Start recording the call to ``path`` (RECORD_START); the file is written when it stops."""
    target = str(_recordings_path(session, path))
    session.recordings[target] = session.core.clock.time()
    session.fire(
        "RECORD_START",
        after=[("Record-File-Path", target)],
        calling_file="switch_ivr_async.c",
        calling_function="record_callback",
        calling_line=1207,
    )
    if limit > 0:

        async def stop_later() -> None:
            await session.core.clock.sleep(limit)
            stop_recording(session, target)

        session.core.spawn(stop_later(), name=f"record-limit-{session.uuid}")
    if stop_all_recordings not in session.hangup_hooks:
        session.hangup_hooks.append(stop_all_recordings)


def stop_recording(session: Session, path: str, cause: str = "success-maxtime") -> bool:
    target = str(_recordings_path(session, path)) if path.lower() != "all" else "all"
    targets = list(session.recordings) if target == "all" else [target]
    found = False
    for name in targets:
        started = session.recordings.pop(name, None)
        if started is None:
            continue
        found = True
        _finish_recording(session, name, _recorded_seconds(session, started), cause)
    return found


def _recorded_seconds(session: Session, started: float) -> float:
    """Seconds recorded since ``started``; a call that hung up stopped sending audio then."""
    hungup = session.channel.profile.hungup
    end = hungup / 1_000_000 if hungup else session.core.clock.time()
    return max(0.0, end - started)


def stop_all_recordings(session: Session) -> None:
    stop_recording(session, "all", "success-silence")


def _finish_recording(session: Session, path: str, seconds: float, cause: str) -> None:
    try:
        media.write_silence_wav(path, seconds)
    except OSError as exc:
        session.core.log(
            3,
            f"Error opening {path}: {exc}",
            file="switch_ivr_async.c",
            function="record_callback",
            line=1180,
            session_uuid=session.uuid,
        )
    ms = int(seconds * 1000)
    session.set_variable("record_seconds", str(ms // 1000))
    session.set_variable("record_ms", str(ms))
    session.set_variable("record_samples", str(ms * 8))
    session.fire(
        "RECORD_STOP",
        after=[("Record-File-Path", path), ("Record-Completion-Cause", cause)],
        calling_file="switch_ivr_async.c",
        calling_function="record_callback",
        calling_line=1302,
    )


async def record(session: Session, data: str) -> None:
    """``record <path> [<time_limit_secs>] [<silence_thresh>] [<silence_hits>]``: until hangup,
    break, a terminator or the time limit; writes the WAV file."""
    args = separate_args(data)
    if not args:
        return
    path = str(_recordings_path(session, args[0]))
    limit = atoi(args[1]) if len(args) > 1 else 0
    terminators = session.get_variable("playback_terminators") or "*#"
    if terminators.lower() == "none":
        terminators = ""
    session.recordings[path] = session.core.clock.time()
    session.set_variable("silence_hits_exhausted", "false")  # switch_ivr_record_file
    session.fire(
        "RECORD_START",
        after=[("Record-File-Path", path)],
        calling_file="switch_ivr_play_say.c",
        calling_function="switch_ivr_record_file_event",
        calling_line=660,
    )
    reason = await session.wait(limit or None, until=lambda: any(d in terminators for d in session.dtmf))
    if reason == "done":
        while session.dtmf:
            digit = session.dtmf.popleft()
            if digit in terminators:
                session.set_variable("playback_terminator_used", digit)
                break
    started = session.recordings.pop(path, None)
    if started is not None:
        cause = {"timeout": "success-maxtime", "done": "success-terminator"}.get(reason, "success-silence")
        _finish_recording(session, path, _recorded_seconds(session, started), cause)


async def gentones(session: Session, data: str) -> None:
    await play_file(session, f"tone_stream://{data}")


def register(manager: CallManager) -> None:
    add = manager.add_application
    add("playback", playback, "Playback File", "<path>")
    add("read", read, "Read Digits", "<min> <max> <file> <var_name> <timeout> <terminators> <digit_timeout>")
    add(
        "play_and_get_digits",
        play_and_get_digits,
        "Play and get Digits",
        "<min> <max> <tries> <timeout> <terminators> <file> <invalid_file> <var_name> <regexp> "
        "[<digit_timeout>] ['<failure_ext> [failure_dp [failure_context]]']",
    )
    add("record", record, "Record File", "<path> [<time_limit_secs>] [<silence_thresh>] [<silence_hits>]")
    add("gentones", gentones, "Generate Tones", "<tone_script>[|<loops>]")
