"""Where the test data is: the project's seeds and the shared corpora beside the project."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
REUTERS_JSONL = SHARED / "corpora" / "reuters21578.jsonl.gz"
REUTERS_TAR = SHARED / "corpora" / "reuters21578-articles.tar.gz"

SADR_1 = "000_4db8953d65d6e437"
SADR_2 = "003_3064415bd491f055"
SEED_IDS = frozenset({SADR_1, SADR_2})
