"""Feature caches: frontend outputs of dataset splits, memory-mapped on disk."""

from ascbench.features.cache import (
    FeatureCacheError,
    FeatureSet,
    cache_key,
    entry_dir,
    features_for,
    load_entry,
)

__all__ = [
    "FeatureCacheError",
    "FeatureSet",
    "cache_key",
    "entry_dir",
    "features_for",
    "load_entry",
]
