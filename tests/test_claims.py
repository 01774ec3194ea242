"""A claim prints a compared verdict line and an evidence line that the sanitizer masks."""

import configparser
import re
from pathlib import Path

import pytest

from cs231n_bn.claims import WIDTH, claim

SANITIZE = Path(__file__).resolve().parents[1] / "notebooks" / "sanitize.cfg"


def _sanitize(text):
    config = configparser.ConfigParser()
    config.read(SANITIZE)
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


def test_claim_prints_verdict_then_evidence(capsys):
    assert claim("batch norm helps", 3 > 2, "3 vs 2") is True
    assert claim("batch norm hurts", 0, "none") is False
    assert capsys.readouterr().out.splitlines() == [
        "[held] batch norm helps",
        "    evidence: 3 vs 2",
        "[NOT SEEN] batch norm hurts",
        "    evidence: none",
    ]


def test_evidence_is_masked_and_the_verdict_is_not(capsys):
    claim("batch norm helps", True, "4.6x fewer steps")
    first = capsys.readouterr().out
    claim("batch norm helps", True, "3.9x fewer steps")
    second = capsys.readouterr().out
    assert _sanitize(first) == _sanitize(second)
    claim("batch norm helps", False, "4.6x fewer steps")
    assert _sanitize(capsys.readouterr().out) != _sanitize(first)


@pytest.mark.parametrize("text, evidence", [("", "e"), ("two\nlines", "e"), (3, "e"), ("t", "a\nb"), ("t", None)])
def test_malformed_claims_are_refused(text, evidence):
    with pytest.raises(ValueError, match="claim: "):
        claim(text, True, evidence)


def test_long_lines_are_broken_between_words_and_wrapped_evidence_is_masked_whole(capsys):
    words = "batch norm's mean test error rises by less than five points as the batch shrinks"
    claim(f"{words}, {words}", True, "errors " + " ".join(f"{e:.3f}" for e in range(40)))
    first = capsys.readouterr().out
    lines = first.splitlines()
    assert len(lines) > 2 and all(len(line) <= WIDTH for line in lines)
    assert " ".join(line.strip() for line in lines).startswith(f"[held] {words}, {words} evidence: errors 0.000")
    claim(f"{words}, {words}", True, "errors " + " ".join(f"{e:.3f}" for e in range(1, 41)))
    assert _sanitize(capsys.readouterr().out) == _sanitize(first)
    assert "errors" not in _sanitize(first) and "held" in _sanitize(first)
