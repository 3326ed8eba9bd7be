"""Fuzzing every reader (tests/data/fuzz_readers.py): a few hundred seeded mutations of small valid
files per format (NTU, Kinetics, PYSKL with hand-made pickles among them, Penn, arrays .npz), each read
through its prepare source in a memory-capped child process. Every outcome must be a clean, finite
read or a ReaderError naming the file: no other exception, no crash, no hang, no code execution."""

import pytest
from fuzz_readers import READERS, run_fuzz

CASES_PER_READER = 200


@pytest.mark.slow
@pytest.mark.parametrize("reader", READERS)
def test_every_mutated_file_reads_cleanly_or_is_a_reader_error(reader):
    counts = run_fuzz(reader, count=CASES_PER_READER, seed=0, case_timeout=60)
    assert sum(counts.values()) == CASES_PER_READER
    assert set(counts) <= {"ok", "reader_error"}, dict(counts)
    # the mutations reach both outcomes: some files stay valid, most are refused
    assert counts["ok"] >= 10 and counts["reader_error"] >= CASES_PER_READER // 2, dict(counts)
