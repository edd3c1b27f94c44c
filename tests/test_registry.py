"""Registry: one hook per kind, registrations checked when called, options built by the host,
presets, composition by names, unknown names, broken and duplicate plugins."""

import types
import warnings

import attrs
import pytest

from videovae import build_model
from videovae.core import BuildContext, ConfigError, FrameDecoder, FrameEncoder, ModelConfig, Sampler, UnknownNameError
from videovae.plugins.datasets.synthetic_chairs import SyntheticChairs, SyntheticChairsOptions
from videovae.plugins.priors.lstm import LSTMPriorOptions
from videovae.registry import get_registry, hookimpl, manager
from videovae.registry.tables import Entry, Registry


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
    assert registry.hooks["videovae.plugins.codecs.paper_conv"] == ["register_decoders", "register_encoders"]
    assert registry.get("prior", "lstm").options is LSTMPriorOptions and registry.get("latent", "flat").options is None
    assert registry.get("prior", "lstm").to_dict()["options"] == ["initial_state", "initial_std"]
    assert registry.failures == []


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


def _registry_with(monkeypatch, *entry_points):
    """A fresh registry of the built-ins and ``entry_points``; failures are returned, not warned."""
    monkeypatch.setattr(manager.entrypoints, "get_group_all", lambda group: list(entry_points))
    monkeypatch.delenv("VIDEOVAE_PLUGINS", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return manager.build_registry()


def _always_mean(context):
    return None


def test_a_broken_plugin_is_reported_and_does_not_stop_the_others(monkeypatch):
    good = _plugin(register_samplers=lambda register: register("always-mean", _always_mean, options=None, description="x"))
    eps = [_FakeEntryPoint("broken", error=ImportError("No module named 'nonexistent_dep'")),
           _FakeEntryPoint("good", obj=good)]
    monkeypatch.setattr(manager.entrypoints, "get_group_all", lambda group: eps)
    monkeypatch.delenv("VIDEOVAE_PLUGINS", raising=False)
    with pytest.warns(UserWarning, match="broken"):
        registry = manager.build_registry()
    assert [(f.plugin, f.error) for f in registry.failures] == [
        ("broken", "plugin broken failed to load: ImportError: No module named 'nonexistent_dep'")]
    entry = registry.get("sampler", "always-mean")
    assert entry.plugin == "good" and entry.package == "good-dist 9.9" and entry.description == "x"
    assert registry.hooks["good"] == ["register_samplers"]
    assert "paper-conv" in registry.names("encoder")  # built-ins still there


def test_plugins_env_var_limits_entry_points(monkeypatch):
    good = _plugin(register_samplers=lambda register: register("extra", _always_mean, options=None))
    monkeypatch.setattr(manager.entrypoints, "get_group_all", lambda group: [_FakeEntryPoint("good", obj=good)])
    monkeypatch.setenv("VIDEOVAE_PLUGINS", "")
    assert "extra" not in manager.build_registry().names("sampler")
    monkeypatch.setenv("VIDEOVAE_PLUGINS", "good")
    assert "extra" in manager.build_registry().names("sampler")


def test_duplicates_are_refused_loudly_naming_both_plugins_and_the_first_is_kept(monkeypatch):
    dup = _plugin(register_encoders=lambda register: register("paper-conv", lambda c: None, options=None))
    monkeypatch.setattr(manager.entrypoints, "get_group_all", lambda group: [_FakeEntryPoint("dup", obj=dup)])
    monkeypatch.delenv("VIDEOVAE_PLUGINS", raising=False)
    with pytest.warns(UserWarning, match="from plugin dup is already registered by plugin videovae.plugins.codecs.paper_conv"):
        registry = manager.build_registry()
    assert registry.get("encoder", "paper-conv").plugin == "videovae.plugins.codecs.paper_conv"


def test_a_hook_that_raises_is_recorded(monkeypatch):
    def explode(register):
        raise RuntimeError("boom\nsecond line")

    registry = _registry_with(monkeypatch, _FakeEntryPoint("bad", obj=_plugin(register_priors=explode)))
    assert [(f.plugin, f.error) for f in registry.failures] == [
        ("bad", "register_priors of plugin bad raised RuntimeError: boom second line")]


@attrs.frozen
class _Opts:
    size: int = attrs.field(default=3, validator=attrs.validators.instance_of(int))


class _Decoder(FrameDecoder):
    def __init__(self, context, options):
        super().__init__()

    def forward(self, z):
        return z


def _sampler_factory(context, options) -> Sampler:
    return None


def _sampler_from_options(options) -> Sampler:
    return None


# (hook, the plugin's register(...) arguments, the message fragment)
REFUSED = [
    ("register_samplers", (("x",), {}), "register(...) missing a required argument: 'factory'; call register(name, factory, *, options, description='')"),
    ("register_samplers", (("x", _always_mean), {}), "missing a required argument: 'options'"),
    ("register_samplers", (("x", _always_mean, None, "text"), {}), "too many positional arguments"),
    ("register_samplers", (("x", _always_mean), {"options": None, "colour": 1}), "unexpected keyword argument 'colour'"),
    ("register_samplers", (("x", 3), {"options": None}), "sampler 'x': the factory must be callable, got int"),
    ("register_samplers", (("x", lambda: None), {"options": None}), "cannot be called as factory(context) (registered with options=None"),
    ("register_samplers", (("x", _always_mean), {"options": _Opts}), "cannot be called as factory(context, options): too many positional arguments"),
    ("register_samplers", (("x", _sampler_factory), {"options": dict}), "options must be an attrs class (or None for a part without options), got <class 'dict'>"),
    ("register_samplers", (("x", _sampler_factory), {"options": _Opts()}), "options must be an attrs class"),
    ("register_samplers", (("", _always_mean), {"options": None}), "the name must be a non-empty string without spaces, got ''"),
    ("register_samplers", (("two words", _always_mean), {"options": None}), "got 'two words'"),
    ("register_samplers", ((7, _always_mean), {"options": None}), "got 7"),
    ("register_samplers", (("x", _always_mean), {"options": None, "description": 5}), "description must be a string, got int"),
    ("register_encoders", (("x", _Decoder), {"options": _Opts}), "encoder 'x': factory builds a _Decoder, not a FrameEncoder; register it in register_decoders"),
    ("register_metrics", (("x", _sampler_from_options), {"options": _Opts}), "metric 'x': factory builds a Sampler, not a Metric; register it in register_samplers"),
    ("register_datasets", (("x", lambda options: None), {"options": _Opts}), "dataset 'x': factory '<lambda>' cannot be called as factory(root, options)"),
    ("register_models", (("x", lambda config, options: None), {"options": _Opts}), "cannot be called as factory(config, attributes, options)"),
    ("register_presets", (("x", {"encoder": "mlp"}), {}), "preset 'x': config must be a ModelConfig, got dict"),
    ("register_presets", (("x", ModelConfig(), "text"), {}), "register(...) too many positional arguments; call register(name, config, *, description='')"),
]


@pytest.mark.parametrize("hook, call, fragment", REFUSED)
def test_each_bad_registration_is_one_line_naming_the_plugin_and_the_others_still_count(monkeypatch, hook, call, fragment):
    args, kwargs = call

    def register_bad(register):
        register(*args, **kwargs)
        if hook == "register_presets":
            register("fine-preset", ModelConfig(), description="kept")
        else:
            register("fine", _always_mean if hook == "register_samplers" else (lambda *a: None), options=None)

    registry = _registry_with(monkeypatch, _FakeEntryPoint("bad", obj=_plugin(**{hook: register_bad})))
    assert len(registry.failures) == 1
    failure = registry.failures[0]
    assert failure.plugin == "bad" and "\n" not in failure.error
    assert failure.error.startswith(f"{hook} of plugin bad (test_registry): "), failure.error
    assert fragment in failure.error
    kind = "preset" if hook == "register_presets" else manager.KINDS[[k.hook for k in manager.KINDS].index(hook)].name
    assert registry.names(kind, "fine*") == ["fine-preset" if kind == "preset" else "fine"]  # the plugin's other registration counts
    assert "x" not in registry.names(kind)


@pytest.mark.parametrize("hooks, fragment", [
    (dict(register_components=lambda register: None), "plugin bad implements register_components, which videovae does not define; register_components(register) was replaced by one hook per kind, each register(...) taking options=; its hooks, one per kind: register_encoders,"),
    (dict(register_encoder=lambda register: None), "implements register_encoder, which videovae does not define; did you mean register_encoders?"),
])
def test_a_hook_videovae_does_not_define_refuses_the_plugin(monkeypatch, hooks, fragment):
    hooks["register_samplers"] = lambda register: register("also-refused", _always_mean, options=None)
    registry = _registry_with(monkeypatch, _FakeEntryPoint("bad", obj=_plugin(**hooks)))
    assert [f.plugin for f in registry.failures] == ["bad"] and fragment in registry.failures[0].error
    assert "\n" not in registry.failures[0].error
    assert "also-refused" not in registry.names("sampler") and "bad" not in registry.plugins


def test_a_hook_asking_for_an_argument_the_spec_does_not_pass_is_refused(monkeypatch):
    registry = _registry_with(monkeypatch, _FakeEntryPoint("bad", obj=_plugin(register_encoders=lambda reg: None)))
    error = registry.failures[0].error
    assert error.startswith("plugin bad was refused: PluginValidationError:") and "reg" in error and "\n" not in error


# -- options built by the host ----------------------------------------------------------------


def test_the_host_builds_the_options_and_hands_the_factory_the_built_object(monkeypatch):
    seen = []

    def build_encoder(context: BuildContext, options: _Opts):
        seen.append(options)
        return real.build(context, options={})

    real = get_registry().get("encoder", "paper-conv")
    plugin = _plugin(register_encoders=lambda register: register("sized", build_encoder, options=_Opts))
    registry = _registry_with(monkeypatch, _FakeEntryPoint("opts", obj=plugin))
    context = BuildContext((3, 64, 64), 8, 8, 8)
    assert isinstance(registry.build("encoder", "sized", context, options={"size": 5}), FrameEncoder)
    assert isinstance(registry.build("encoder", "sized", context), FrameEncoder)
    assert seen == [_Opts(size=5), _Opts(size=3)]
    with pytest.raises(ConfigError) as info:
        registry.build("encoder", "sized", context, options={"sise": 5})
    assert str(info.value) == "encoder 'sized': _Opts has no field(s) sise; known fields: size"
    with pytest.raises(ConfigError, match="encoder 'sized': .*size"):
        registry.build("encoder", "sized", context, options={"size": "five"})


@pytest.mark.parametrize("overrides, message", [
    (dict(prior_options={"initail_state": "zeros"}), "prior 'lstm': LSTMPriorOptions has no field(s) initail_state; known fields: initial_state, initial_std"),
    (dict(prior_options={"initial_state": "middle"}), "prior 'lstm': "),
    (dict(encoder_options={"chanels": (4,)}), "encoder 'paper-conv': ConvCodecOptions has no field(s) chanels"),
    (dict(latent_options={"x": 1}), "latent 'hierarchical' takes no options, got x"),
    (dict(sampler="unconditional", sampler_options={"y": 2}), "sampler 'unconditional' takes no options, got y"),
])
def test_unknown_or_mistyped_options_are_one_line_errors_naming_part_and_option(overrides, message):
    with pytest.raises(ConfigError) as info:
        build_model("tiny", **overrides)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_datasets_and_metrics_get_built_options():
    registry = get_registry()
    chairs = registry.build("dataset", "synthetic-chairs", None, options={"num_objects": 2, "size": 32})
    assert isinstance(chairs.options, SyntheticChairsOptions) and chairs.options.num_objects == 2
    with pytest.raises(ConfigError, match=r"^dataset 'synthetic-chairs': SyntheticChairsOptions has no field\(s\) num_object;"):
        registry.build("dataset", "synthetic-chairs", None, options={"num_object": 2})
    assert registry.build("metric", "inter-entropy", options={"marginal": "soft"}).marginal == "soft"
    # constructed directly in Python: keyword options, or a built options object, not both
    assert SyntheticChairs(options=SyntheticChairsOptions(num_objects=2, size=32)).options.size == 32
    with pytest.raises(ConfigError, match="not both"):
        SyntheticChairs(options=SyntheticChairsOptions(), size=32)


def test_a_factory_returning_the_wrong_type_is_named(monkeypatch):
    registry = Registry(("encoder", "decoder", "latent", "prior", "sampler", "model", "preset"))
    real = get_registry()
    for kind in registry.kinds:
        registry.tables[kind] = dict(real.tables[kind])
    registry.tables["sampler"]["wrong"] = Entry("sampler", "wrong", lambda c: object(), "someplugin", "pkg 1")
    monkeypatch.setattr("videovae.registry.factory.get_registry", lambda: registry)
    with pytest.raises(ConfigError, match="sampler 'wrong' from plugin someplugin built a object, expected a Sampler"):
        build_model("tiny", sampler="wrong")


def test_videovae_plugins_lists_parts_with_their_package_and_refusals_in_one_line(monkeypatch, capsys):
    from videovae.cli import main

    def register_samplers(register):
        register("always-mean", _always_mean, options=None, description="kept")
        register("bad name", _always_mean, options=None)

    eps = [_FakeEntryPoint("broken", error=ImportError("No module named 'nonexistent_dep'")),
           _FakeEntryPoint("mixed", obj=_plugin(register_samplers=register_samplers))]
    registry = _registry_with(monkeypatch, *eps)
    monkeypatch.setattr(manager, "_registry", registry)
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:3] == ["always-mean", "mixed-dist", "9.9"] for line in lines)
    failed = lines[lines.index("plugins that failed:") + 1:]
    assert failed == [
        "  broken: plugin broken failed to load: ImportError: No module named 'nonexistent_dep'",
        "  mixed: register_samplers of plugin mixed (test_registry): the name must be a non-empty string without spaces, got 'bad name'",
    ]
