"""Model files: the registry (what each model is and where it comes from), verification, `require`, `status`
and `pull`. One job per module:

- `spec`: ModelFile, ModelSpec, the Source protocol;      - `registry`: every model, its sha256 and sources;
- `sources` / `fetching`: the kinds of source and the downloads they share; `requantize`: GGUF Q4_1 → Q8_0;
- `verify`: sha256 and the per-folder stamp;              - `store`: `require` and `status`;  - `pulling`: `pull`.
"""

from assistant.engines.models.fetching import FetchContext
from assistant.engines.models.pulling import pull
from assistant.engines.models.registry import MODELS, REGISTRY, get
from assistant.engines.models.sources import HubSource, NpmSource, Requantized, UrlSource, WheelPart, WheelSource
from assistant.engines.models.spec import STAMP_NAME, ModelFile, ModelSpec, Source, SourceError
from assistant.engines.models.store import require, require_folder, status

__all__ = ["MODELS", "REGISTRY", "STAMP_NAME", "FetchContext", "HubSource", "ModelFile", "ModelSpec", "NpmSource",
           "Requantized", "Source", "SourceError", "UrlSource", "WheelPart", "WheelSource", "get", "pull", "require",
           "require_folder", "status"]
