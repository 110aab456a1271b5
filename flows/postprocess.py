"""What happens to a raw object's documents between cleaning and storing, per source:
learned boilerplate (cleaning/boilerplate.py, model stored per source) and near-duplicate / story
assignment (pipelines/dedup.py, index stored in the store).

Models and index are saved only after the raw object's completion marker, so a crash before it
re-cleans the object with the same models and gives the same documents (idempotent), and a crash
after it costs at most one partition of learning."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from cleaning.boilerplate import BoilerplateModel, apply_boilerplate, learn_boilerplate
from cleaning.config import DEFAULT_CONFIG
from cleaning.records import CleanDocument, CleanResult
from pipelines import layout
from pipelines.dedup import DedupIndex
from pipelines.store import KeyNotFound, ObjectStore

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_indexes: dict[str, DedupIndex] = {}


def dedup_index(store: ObjectStore) -> DedupIndex:
    """One open index per store and process: opening reads the persisted index once per run."""
    with _lock:
        index = _indexes.get(store.url)
        if index is None:
            index = _indexes[store.url] = DedupIndex.open(store)
        return index


def forget_indexes() -> None:
    with _lock:
        _indexes.clear()


def load_boilerplate(store: ObjectStore, source: str) -> BoilerplateModel | None:
    try:
        return BoilerplateModel.from_dict(json.loads(store.get(layout.boilerplate_key(source))))
    except KeyNotFound:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("boilerplate model of %s unreadable (%s): learning afresh", source, exc)
        return None


class Postprocess:
    """The ``postprocess`` hook of ``clean_raw_object`` for one raw object."""

    def __init__(self, store: ObjectStore, *, replay: bool = False, dedup: bool = True):
        self.store = store
        self.replay = replay
        self.index = dedup_index(store) if dedup else None
        self.model: BoilerplateModel | None = None
        self.source: str | None = None
        self.near_duplicates = 0  # documents assigned to an earlier document's near-duplicate cluster
        self.in_stories = 0  # documents grouped into an earlier document's story

    def __call__(self, source: str, docs: list[CleanDocument]) -> list[CleanResult]:
        self.source = source
        previous = load_boilerplate(self.store, source)
        # A replay re-cleans pages already learned from: apply the stored model, do not count them again.
        self.model = previous if self.replay else learn_boilerplate((d.text for d in docs), previous)
        out: list[CleanResult] = (
            [apply_boilerplate(d, self.model, DEFAULT_CONFIG) for d in docs] if self.model else list(docs)
        )
        if self.index is not None:
            kept = self.index.assign([d for d in out if isinstance(d, CleanDocument)])
            self.near_duplicates = sum(d.near_duplicate_of is not None for d in kept)
            self.in_stories = sum(d.story_id not in (None, d.id) for d in kept)
            assigned = iter(kept)
            out = [next(assigned) if isinstance(d, CleanDocument) else d for d in out]
        return out

    def finish(self, run_id: str, stored: bool) -> dict[str, Any]:
        """After the raw object's documents and marker are stored: persist what was learned."""
        info: dict[str, Any] = {}
        if stored and self.model is not None and self.source is not None and not self.replay:
            self.store.put(layout.boilerplate_key(self.source), json.dumps(self.model.to_dict()).encode(),
                           "application/json")
            info["boilerplate_lines"] = len(self.model.learned)
        if self.index is not None:
            commit = self.index.commit(run_id)
            info["dedup"] = {k: v for k, v in commit.to_dict().items() if k != "keys"}
            info["near_duplicates"] = self.near_duplicates
            info["in_stories"] = self.in_stories
        return info
