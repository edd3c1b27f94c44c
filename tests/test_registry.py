"""Registry: presets, composition by names, unknown names, broken and duplicate plugins."""

import types

import pytest

from videovae import build_model
from videovae.core.errors import ConfigError, UnknownNameError
from videovae.registry import get_registry, hookimpl, manager
from videovae.registry.tables import Registry


def test_builtin_parts_and_presets_are_registered():
    registry = get_registry()
    assert {"paper-conv"} <= set(registry.names("encoder"))
    assert {"hierarchical", "flat"} <= set(registry.names("latent"))
    assert {"lstm", "standard-normal"} <= set(registry.names("prior"))
    assert {"conditional", "unconditional"} <= set(registry.names("sampler"))
    assert {"videovae", "tiny", "static", "minus-c-minus-s", "plus-c-minus-s", "minus-c-plus-s",
            "plus-c-plus-s"} <= set(registry.names("preset"))
    assert "synthetic-chairs" in registry.names("dataset")
    assert registry.names("preset", "*-c-*") == ["minus-c-minus-s", "minus-c-plus-s", "plus-c-minus-s", "plus-c-plus-s"]
    entry = registry.get("encoder", "paper-conv")
    assert entry.plugin == "videovae.plugins.codecs.paper_conv" and entry.package.startswith("videovae ")


def test_presets_compose_the_documented_parts():
    parts = lambda m: (m.config.latent, m.config.prior, m.config.sampler)  # noqa: E731
    tiny = dict(frame_size=32, encoder_options=dict(channels=(4, 8, 8, 16), kernels=(5, 5, 3, 3), strides=(1, 2, 1, 2)),
                decoder_options=dict(channels=(4, 8, 8, 16), kernels=(5, 5, 3, 3), strides=(1, 2, 1, 2)), latent_dim=8)
    assert parts(build_model("minus-c-minus-s", **tiny)) == ("flat", "lstm", "unconditional")
    assert parts(build_model("plus-c-minus-s", **tiny)) == ("flat", "lstm", "conditional")
    assert parts(build_model("minus-c-plus-s", **tiny)) == ("hierarchical", "lstm", "unconditional")
    assert parts(build_model("static", **tiny)) == ("flat", "standard-normal", "unconditional")


def test_composition_by_part_names_without_a_preset():
    model = build_model(encoder="paper-conv", decoder="paper-deconv", latent="flat", prior="lstm",
                        sampler="conditional", frame_size=32, latent_dim=8, state_dim=8, hidden_dim=8,
                        encoder_options=dict(kernels=(5, 5, 3, 3), strides=(1, 2, 1, 2)),
                        decoder_options=dict(kernels=(5, 5, 3, 3), strides=(1, 2, 1, 2)))
    assert model.config.latent == "flat" and model.config.latent_dim == 8


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(preset="tinny"), "unknown preset 'tinny'; did you mean 'tiny'?"),
    (dict(preset="tiny", encoder="paper-cnv"), "unknown encoder 'paper-cnv'; did you mean 'paper-conv'?"),
    (dict(preset="tiny", sampler="conditonal"), "did you mean 'conditional'?"),
])
def test_unknown_names_list_the_closest_match(kwargs, fragment):
    preset = kwargs.pop("preset")
    with pytest.raises(UnknownNameError) as info:
        build_model(preset, **kwargs)
    message = str(info.value)
    assert fragment in message and "known:" in message and "videovae plugins" in message and "\n" not in message


def test_wrong_config_types_give_one_line_errors():
    with pytest.raises(ConfigError, match="latent_dim must be a positive integer, got 'big'"):
        build_model("tiny", latent_dim="big")
    with pytest.raises(ConfigError, match="unknown argument"):
        build_model("tiny", latnet_dim=3)


class _FakeEntryPoint:
    def __init__(self, name, obj=None, error=None):
        self.name, self.module_name, self._obj, self._error = name, f"{name}_module", obj, error
        self.distro = types.SimpleNamespace(name=f"{name}-dist", version="9.9")

    def load(self):
        if self._error:
            raise self._error
        return self._obj


def _plugin(**hooks):
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def test_a_broken_plugin_is_reported_and_does_not_stop_the_others(monkeypatch):
    good = _plugin(register_components=lambda register: register("sampler", "always-mean", lambda c, o: None, "x"))
    eps = [_FakeEntryPoint("broken", error=ImportError("No module named 'nonexistent_dep'")),
           _FakeEntryPoint("good", obj=good)]
    monkeypatch.setattr(manager.entrypoints, "get_group_all", lambda group: eps)
    monkeypatch.delenv("VIDEOVAE_PLUGINS", raising=False)
    with pytest.warns(UserWarning, match="broken"):
        registry = manager.build_registry()
    assert [(f.plugin, f.error) for f in registry.failures] == [
        ("broken", "failed to load: ImportError: No module named 'nonexistent_dep'")]
    entry = registry.get("sampler", "always-mean")
    assert entry.plugin == "good" and entry.package == "good-dist 9.9"
    assert "paper-conv" in registry.names("encoder")  # built-ins still there


def test_plugins_env_var_limits_entry_points(monkeypatch):
    good = _plugin(register_components=lambda register: register("sampler", "extra", lambda c, o: None))
    monkeypatch.setattr(manager.entrypoints, "get_group_all", lambda group: [_FakeEntryPoint("good", obj=good)])
    monkeypatch.setenv("VIDEOVAE_PLUGINS", "")
    assert "extra" not in manager.build_registry().names("sampler")
    monkeypatch.setenv("VIDEOVAE_PLUGINS", "good")
    assert "extra" in manager.build_registry().names("sampler")


def test_duplicates_are_refused_loudly_and_the_first_is_kept(monkeypatch):
    dup = _plugin(register_components=lambda register: register("encoder", "paper-conv", lambda c, o: None))
    monkeypatch.setattr(manager.entrypoints, "get_group_all", lambda group: [_FakeEntryPoint("dup", obj=dup)])
    monkeypatch.delenv("VIDEOVAE_PLUGINS", raising=False)
    with pytest.warns(UserWarning, match="already registered by plugin videovae.plugins.codecs.paper_conv"):
        registry = manager.build_registry()
    assert registry.get("encoder", "paper-conv").plugin == "videovae.plugins.codecs.paper_conv"


def test_a_hook_that_raises_is_recorded(monkeypatch):
    def explode(register):
        raise RuntimeError("boom")

    bad = _plugin(register_components=explode)
    monkeypatch.setattr(manager.entrypoints, "get_group_all", lambda group: [_FakeEntryPoint("bad", obj=bad)])
    monkeypatch.delenv("VIDEOVAE_PLUGINS", raising=False)
    with pytest.warns(UserWarning, match="boom"):
        registry = manager.build_registry()
    assert registry.failures[0].plugin == "bad"


def test_a_factory_returning_the_wrong_type_is_named(monkeypatch):
    registry = Registry(("encoder", "decoder", "latent", "prior", "sampler", "model", "preset"))
    real = get_registry()
    for kind in registry.kinds:
        registry.tables[kind] = dict(real.tables[kind])
    from videovae.registry.tables import Entry

    registry.tables["sampler"]["wrong"] = Entry("sampler", "wrong", lambda c, o: object(), "someplugin", "pkg 1")
    monkeypatch.setattr("videovae.registry.factory.get_registry", lambda: registry)
    with pytest.raises(ConfigError, match="sampler 'wrong' from plugin someplugin built a object, expected a Sampler"):
        build_model("tiny", sampler="wrong")
