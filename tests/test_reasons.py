"""Error rows say why, the same way in every stage."""
from __future__ import annotations

from vidmusician.video.audio import NoAudioTrack
from vidmusician.storage import ObjectNotFound
from vidmusician.video.errors import MAX_REASON_CHARS, error_reason
from vidmusician.video.frames import DecodeError


def test_storage_errors_drop_the_input_uri_the_row_already_carries():
    err = ObjectNotFound("s3://bucket/a.mp4: object not found")
    assert error_reason(err, "s3://bucket/a.mp4") == "storage: object not found"
    assert error_reason(err, "s3://bucket/a.mp4", stage="write") == "write: storage: object not found"


def test_input_errors_are_their_message_and_others_name_their_type():
    assert error_reason(NoAudioTrack("no audio track")) == "no audio track"
    assert error_reason(DecodeError("cannot open video (bad header)"), stage="decode") == \
        "decode: cannot open video (bad header)"
    assert error_reason(ZeroDivisionError("division by zero"), stage="generation") == \
        "generation: ZeroDivisionError: division by zero"
    assert error_reason(RuntimeError()) == "RuntimeError: "


def test_a_reason_is_one_bounded_line():
    reason = error_reason(RuntimeError("x" * 1000 + "\nsecond line"))
    assert "\n" not in reason and "second" not in reason
    assert len(reason) == len("RuntimeError: ") + MAX_REASON_CHARS
