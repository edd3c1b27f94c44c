"""Reading TensorBoard event files back in the tests, without TensorFlow or TensorBoard: the TFRecord framing
(length, its CRC, the record, its CRC) by hand and tensorboardX's own protobufs."""

from __future__ import annotations

import struct
from pathlib import Path


def read_events(folder) -> list:
    """Every ``Event`` of every event file directly in ``folder``, file by file in the order they were begun
    (TensorBoard reads them in name order, which begins with the second they were made: the same order unless
    two were made in one second, as in the tests)."""
    files = [_file_events(path) for path in Path(folder).iterdir() if path.is_file()]
    return [event for events in sorted(files, key=lambda events: events[0].wall_time) for event in events]


def _file_events(path: Path) -> list:
    from tensorboardX.proto import event_pb2

    events, data, position = [], path.read_bytes(), 0
    while position < len(data):
        (length,) = struct.unpack("<Q", data[position:position + 8])
        events.append(event_pb2.Event.FromString(data[position + 12:position + 12 + length]))
        position += 12 + length + 4
    return events


def event_tags(folder) -> set[str]:
    """The summary tags of every event file in ``folder``."""
    return {value.tag for event in read_events(folder) for value in event.summary.value}


def summaries(folder, tag: str) -> list[tuple[int, object]]:
    """``(step, Summary.Value)`` of every summary of ``tag`` in ``folder``, in the order written."""
    return [(event.step, value) for event in read_events(folder) for value in event.summary.value if value.tag == tag]


def scalars(folder, tag: str) -> list[tuple[int, float]]:
    """``(step, value)`` of the scalar ``tag`` (tensorboardX writes ``simple_value``)."""
    return [(step, value.simple_value) for step, value in summaries(folder, tag)]


def text(folder, tag: str) -> list[tuple[int, str]]:
    """``(step, text)`` of ``add_text(tag, …)`` (stored as ``<tag>/text_summary``)."""
    return [(step, value.tensor.string_val[0].decode()) for step, value in summaries(folder, f"{tag}/text_summary")]
