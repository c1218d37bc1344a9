"""The image pool: import + validation, entity grounding, embeddings, retrieval and deduplication.

Heavy libraries (torch, open_clip, faiss, ray) are imported inside the functions that use them.
"""

from .store import ImagePool

__all__ = ["ImagePool"]
