"""Text pasted into a search field: our plain-text emails wrap references, times and phone
numbers in invisible direction isolates (U+2066…U+2069, so they keep their order in right-to-left
languages), and text copied from right-to-left pages carries direction marks and embeddings. None
of them is part of what someone looks for, and a copied reference must still be found (pure)."""

from __future__ import annotations

import re

# LRM, RLM; LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str | None) -> str:
    """`text` without bidi control characters and without the spaces around it ("" for None)."""
    return BIDI_CONTROLS.sub("", text or "").strip()
