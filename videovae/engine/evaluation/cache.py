"""Where the evaluation classifier lives by default: one folder per data set in the videovae cache
(``$VIDEOVAE_CACHE``, default ``~/.cache/videovae``, as for the prepared data sets), so every checkpoint
of a data set is scored by one classifier, trained once.

The folder is keyed by everything that makes two classifiers differ: the data set's registry name, its
options, its data root, the evaluation protocol's version and the classifier's model config (the encoder
it copies). Inside it the file name adds the evaluated attributes, the training steps and the seed
(:func:`~videovae.engine.evaluation.classifier.classifier_key`), as in any ``--classifier-dir``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from ...core.config import ModelConfig
from ...core.errors import ConfigError
from ...io.atomic import atomic_write_text
from ...plugins.datasets.cache import cache_dir, digest
from .protocol import PROTOCOL_VERSION

#: the file in each classifier folder that says what it was keyed by
KEY_FILE = "key.json"


def classifier_folder_key(name: str, options: Mapping[str, Any], root: str | None, classifier_config: ModelConfig,
                          version: int = PROTOCOL_VERSION) -> dict[str, Any]:
    """What the default classifier folder of a data set is keyed by (the root made absolute)."""
    return {"dataset": name, "options": dict(options), "root": None if root is None else str(Path(root).expanduser().resolve()),
            "protocol_version": version, "classifier_config": classifier_config.to_dict()}


def default_classifier_dir(name: str, options: Mapping[str, Any], root: str | None, classifier_config: ModelConfig,
                           version: int = PROTOCOL_VERSION) -> Path:
    """``<cache>/classifiers/<name>-<key>``, created with its :data:`KEY_FILE`; an unwritable cache is a
    one-line :class:`ConfigError`."""
    key = classifier_folder_key(name, options, root, classifier_config, version)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "dataset"
    folder = cache_dir() / "classifiers" / f"{safe}-{digest(key)[:12]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / KEY_FILE).is_file():
            atomic_write_text(folder / KEY_FILE, json.dumps(key, indent=2, sort_keys=True, default=str))
    except OSError as exc:
        raise ConfigError(f"cannot write the classifier cache {folder} ({exc.strerror or exc}); set VIDEOVAE_CACHE "
                          "or pass --classifier-dir") from None
    return folder
