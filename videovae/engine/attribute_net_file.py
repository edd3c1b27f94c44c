"""The attribute net's file format: φ_att (:mod:`videovae.engine.attribute_inference.net`) as a
plain-data checkpoint (``torch.load(weights_only=True)`` reads it), written by stage 1 as
``attribute_net.pt`` and by the evaluation protocol as its classifier cache."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..core.attributes import AttributeSet
from ..core.config import ModelConfig
from ..core.errors import CheckpointError, VideoVAEError
from .archive import atomic_torch_save, load_plain_data, state_misfit
from .checkpoint import versions

if TYPE_CHECKING:
    from .attribute_inference.net import AttributeInferenceNet

NET_FORMAT = "videovae-attribute-net"
NET_FORMAT_VERSION = 1
NET_FILE = "attribute_net.pt"


def net_payload(net: AttributeInferenceNet, **extra: Any) -> dict[str, Any]:
    """Plain data of the net (configuration, attributes, weights, versions) plus ``extra`` fields."""
    return {
        "format": NET_FORMAT,
        "format_version": NET_FORMAT_VERSION,
        "versions": versions(),
        "model_config": net.model_config.to_dict(),
        "attributes": net.attributes.to_list(),
        "hidden_dim": net.hidden_dim,
        "state_dim": net.state_dim,
        "pooling": net.pooling,
        "motion_attributes": list(net.motion_attributes),
        "state": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        **extra,
    }


def net_from_payload(payload: Mapping[str, Any], where: str = "attribute net") -> AttributeInferenceNet:
    """Rebuild the net (by registry names) from :func:`net_payload` data, in eval mode on the CPU."""
    if not isinstance(payload, Mapping) or payload.get("format") != NET_FORMAT:
        raise CheckpointError(f"{where} is not a videovae attribute net (no '{NET_FORMAT}' format marker)")
    if payload.get("format_version") != NET_FORMAT_VERSION:
        raise CheckpointError(f"{where} has attribute-net format version {payload.get('format_version')}, "
                              f"this videovae reads version {NET_FORMAT_VERSION}")
    from .attribute_inference.net import build_attribute_net  # here: the package imports this module

    try:
        net = build_attribute_net(ModelConfig.from_dict(payload["model_config"]), AttributeSet.from_list(payload["attributes"]),
                                  hidden_dim=int(payload["hidden_dim"]), state_dim=int(payload["state_dim"]),
                                  pooling=str(payload.get("pooling", "mean")),
                                  motion_attributes=tuple(payload.get("motion_attributes", ())))
        misfit = state_misfit(net.state_dict(), payload["state"])
        if misfit is not None:
            raise CheckpointError(f"{where}: the weights do not fit the net its config describes ({misfit})")
        net.load_state_dict(payload["state"])
    except CheckpointError:
        raise
    except KeyError as exc:
        raise CheckpointError(f"{where} lacks the field {exc.args[0]!r}") from None
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{where}: weights do not fit the net they describe: {first[:200]}") from None
    except VideoVAEError as exc:
        raise CheckpointError(f"{where}: {str(exc).splitlines()[0]}") from None
    net.eval()
    return net


def save_attribute_net(path: str | Path, net: AttributeInferenceNet, **extra: Any) -> Path:
    """Write the net as a plain-data checkpoint (atomically; ``torch.load(weights_only=True)`` reads it)."""
    return atomic_torch_save(net_payload(net, **extra), path)


def read_attribute_net(path: str | Path) -> dict[str, Any]:
    """The data of an attribute-net file; one-line :class:`CheckpointError` if missing or foreign."""
    return load_plain_data(path, "attribute net", NET_FORMAT,
                           f"expected {NET_FILE} written by `videovae train --labelled-fraction`",
                           writer="`videovae train --labelled-fraction` or `videovae evaluate`")


def load_attribute_net(path: str | Path) -> tuple[AttributeInferenceNet, dict[str, Any]]:
    """The net (eval mode, CPU) stored at ``path`` and the file's data."""
    payload = read_attribute_net(path)
    return net_from_payload(payload, str(path)), payload

