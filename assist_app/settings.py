"""Where the knowledge base and the index live, and the service's limits."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    kb_dir: Path
    index_root: Path
    # A chat message is a few hundred characters; 5,000 leaves room for a pasted conversation.
    max_case_chars: int = 5000
    max_body_bytes: int = 64 * 1024
    max_limit: int = 20

    @classmethod
    def from_env(cls) -> Settings:
        """KB_DIR and KB_INDEX_DIR override the defaults: the repository's kb/ and var/index/."""
        kb_dir = Path(os.environ.get("KB_DIR", PROJECT_ROOT / "kb"))
        index_root = Path(os.environ.get("KB_INDEX_DIR", PROJECT_ROOT / "var" / "index"))
        return cls(kb_dir=kb_dir, index_root=index_root)
