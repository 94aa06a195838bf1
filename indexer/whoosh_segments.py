"""Every use of Whoosh's private API, in one place, checked against one Whoosh version.

The build writes a segment per span of articles on every core and commits them in one table of
contents (as Whoosh's own MpWriter(multisegment=True) does), with a segment writer that reads
document lengths once per flush; the score arrays read postings a block at a time and BM25F's
per-field B. None of this is Whoosh's public API: it was checked against whoosh-reloaded
WHOOSH_CHECKED (pinned in pyproject.toml), and tests/test_whoosh_segments.py fails when another
version is installed. tests/test_impacts.py checks the bytes written and the scores read.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from whoosh.writing import SegmentWriter

WHOOSH_CHECKED = (2, 7, 5)


class _Lengths:
    """A segment's document field lengths read once into lists: Whoosh's writer asks for the
    length of a posting's document for every posting it writes (block statistics), each ask
    a column read (a third of writing a segment)."""

    def __init__(self, reader, fields: Iterable[str]):
        self._reader = reader
        docs = range(reader.doc_count_all())
        self._lengths = {f: [reader.doc_field_length(d, f, 0) for d in docs] for f in fields}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        # What Whoosh's reader answers, None for an empty field included.
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            return self._reader.doc_field_length(docnum, fieldname, default)
        return lengths[docnum]

    def close(self) -> None:
        self._reader.close()


class LengthsOnceSegmentWriter(SegmentWriter):
    """Whoosh's SegmentWriter, flushing with the lengths read once (_Lengths); the same bytes."""

    def _flush_segment(self):
        if not self.codec.length_stats:
            return super()._flush_segment()
        self.perdocwriter.close()
        scored = [name for name, field in self.schema.items() if field.scorable]
        lengths = _Lengths(self.per_document_reader(), scored)
        try:
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
            self.fieldwriter.close()
        finally:
            lengths.close()


def segment_writer(ix, limitmb: int) -> LengthsOnceSegmentWriter:
    """A writer of one more segment of `ix`, beside the writer that holds the index lock
    (_lk=False, as in Whoosh's MpWriter sub-writers)."""
    return LengthsOnceSegmentWriter(ix, _lk=False, limitmb=limitmb)


def finish_segment(writer: SegmentWriter):
    """Flush the writer's segment and return it, for the lock holder's table of contents.

    Not _finish(): it would delete the temp folder the writers share (the lock holder's
    writer removes it when it commits).
    """
    return writer._finalize_segment()


def close_segment(writer: SegmentWriter) -> None:
    """Close a segment writer's files after a failure; not cancel(), which would delete the
    shared temp folder under the lock holder's writer."""
    writer._close_segment()


def commit_segments(writer: SegmentWriter, segments: list) -> None:
    """Commit segments written by other writers as the index's content, with the lock
    holder's `writer` (which wrote none itself)."""
    writer._close_segment()
    writer._commit_toc(segments)  # as Whoosh's own MpWriter(multisegment=True) does
    writer._finish()


def postings(leaves, field: str, text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Whoosh document numbers and weights (term frequency times field boost) of one term,
    over every segment of the index (`leaves`: the reader's (segment reader, first doc))."""
    ids, weights = [], []
    for leaf, offset in leaves:
        if (field, text) not in leaf:
            continue
        matcher = leaf.postings(field, text)
        start = len(ids)
        if hasattr(matcher, "_read_ids") and hasattr(matcher, "_next_block"):
            # Whoosh 2.7's own block reader (W3LeafMatcher): a block at a time, not a posting
            # at a time.
            while matcher.is_active():
                matcher._read_ids()
                matcher._read_weights()
                ids.extend(matcher._ids)
                weights.extend(matcher._weights)
                matcher._next_block()
        else:
            while matcher.is_active():
                ids.append(matcher.id())
                weights.append(matcher.weight())
                matcher.next()
        if offset:
            ids[start:] = [i + offset for i in ids[start:]]
    return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float64)


def field_b(weighting, field: str) -> float:
    """BM25F's length normalisation B for a field (its per-field value, else the default)."""
    return weighting._field_B.get(field, weighting.B)
