"""Load a trajectories run (numpy only): python3 load.py RUN_DIR"""
import json
import sys
from pathlib import Path

import numpy as np


def shards(run_dir, mmap_mode="r"):
    """Yields (start, video, label) per shard in index order, memory-mapped by default."""
    data = Path(run_dir) / "data"
    index = json.loads((data / "index.json").read_text())
    expected_start = 0
    for shard in index["shards"]:
        assert shard["start"] == expected_start, f"index.json has a gap or overlap at item {expected_start}"
        files = {name.split(".")[-2]: data / name for name in shard["files"]}  # "<range>.video.npy" -> "video"
        yield shard["start"], np.load(files["video"], mmap_mode=mmap_mode), np.load(files["label"], mmap_mode=mmap_mode)
        expected_start = shard["end"]
    assert expected_start == index["items"], f"index.json covers {expected_start} items, not {index['items']}"


def load(run_dir):
    """The whole dataset in memory: video (N, frames, size, size) uint8, label (N,) uint8, row i = item i."""
    _, videos, labels = zip(*shards(run_dir))
    return np.concatenate(videos), np.concatenate(labels)


if __name__ == "__main__":
    video, label = load(sys.argv[1])
    print("video", video.shape, video.dtype)
    print("label", label.shape, label.dtype)
    classes, counts = np.unique(label, return_counts=True)
    print("label counts", dict(zip(classes.tolist(), counts.tolist())))
    print("labels", label)
