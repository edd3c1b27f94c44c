"""The composed model's ``rollout_kl`` option (latent overshooting): each training clip also runs free, as
mode (iv) generates it, and the prior it reaches is pulled to the posterior of the real frames."""

import pytest
import torch

from conftest import straight_and_resumed
from videovae.core.errors import ConfigError
from videovae.registry.factory import build_from_config, resolve_config


def tiny(chair_attributes, weight, **options):
    torch.manual_seed(0)
    config = resolve_config("tiny", architecture_options={"rollout_kl": weight, **options})
    return build_from_config(config, chair_attributes)


def free_running_by_hand(model, frames, labels, noise, start=0):
    """The posterior pass's h^(0), then the real frames 0..start as that pass read them, then the prior's means
    read back through the codec: the KL of frames start+1.. (zeros before)."""
    codes = model.attribute_codes(labels)
    out = model(frames, labels, noise=noise, generator=torch.Generator().manual_seed(5))
    state = model.temporal.initial_state(2, generator=torch.Generator().manual_seed(5))
    for t in range(start + 1):
        read = model.latent.residual(model.encoder(frames[:, t]))
        state = model.temporal.step(torch.cat([read.params(), out.z[:, t]], -1), state)
    kls = [torch.zeros(2) for _ in range(start)]
    for t in range(start + 1, frames.shape[1]):
        prior = model.temporal.prior(model.temporal.hidden(state), codes[:, t])
        kls.append(out.posterior[:, t].kl_divergence(prior))
        z = prior.mean
        read = model.latent.residual(model.encoder(model.decoder(z).clamp(0.0, 1.0)))
        state = model.temporal.step(torch.cat([read.params(), z], -1), state)
    return torch.stack(kls, 1)


def run(model, frames, labels, noise, starts=(0, 0)):
    return model(frames, labels, noise=noise, generator=torch.Generator().manual_seed(5),
                 rollout_starts=torch.tensor(starts))


def test_the_free_running_kl_is_the_rollout_written_out(chair_attributes, clips):
    frames, labels, noise = clips
    model = tiny(chair_attributes, 0.5).eval()
    out = run(model, frames, labels, noise)
    assert out.rollout_kl.shape == (2, 3) and bool(out.rollout_counted.all())
    torch.testing.assert_close(out.rollout_kl, free_running_by_hand(model, frames, labels, noise))
    # the teacher-forced pass is the paper's, unchanged by the option
    paper = tiny(chair_attributes, 0.0).eval()(frames, labels, noise=noise, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(out.kl, paper.kl)
    torch.testing.assert_close(out.reconstruction, paper.reconstruction)
    assert paper.rollout_kl is None


def test_each_clip_runs_free_after_its_own_start(chair_attributes, clips):
    """Clip 0 runs free after its first frame, clip 1 after reading frames 0-2: only frame 3 is predicted free."""
    frames, labels, noise = clips
    model = tiny(chair_attributes, 0.5, rollout_start="any").eval()
    out = run(model, frames, labels, noise, starts=(0, 2))
    assert out.rollout_counted.tolist() == [[True, True, True], [False, False, True]]
    torch.testing.assert_close(out.rollout_kl[0], free_running_by_hand(model, frames, labels, noise, 0)[0])
    torch.testing.assert_close(out.rollout_kl[1], free_running_by_hand(model, frames, labels, noise, 2)[1])
    assert out.rollout_kl[1, :2].eq(0).all()


def test_the_starts_are_uniform_over_the_frames_that_leave_one_to_predict(chair_attributes):
    from videovae.plugins.models.rollout import starts_from
    assert starts_from(torch.tensor([0.0, 0.2, 0.34, 0.5, 0.99]), 4).tolist() == [0, 0, 1, 1, 2]
    model = tiny(chair_attributes, 1.0, rollout_start="any")
    starts = model.rollout_starts((4000, 16), torch.device("cpu"), generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(starts, minlength=15)
    assert counts.shape == (15,) and counts.min() > 200  # 0..14, each about 267 times
    assert tiny(chair_attributes, 1.0).rollout_starts((3, 16), torch.device("cpu")).tolist() == [0, 0, 0]
    assert tiny(chair_attributes, 0.0).rollout_starts((3, 16), torch.device("cpu")) is None


def test_the_loss_adds_the_weighted_term_and_names_it(chair_attributes, clips):
    frames, labels, noise = clips
    model = tiny(chair_attributes, 0.5)
    torch.manual_seed(3)
    terms = model.loss(frames, labels, kl_weight=0.2, noise=noise)
    torch.testing.assert_close(terms.total, terms.reconstruction + 0.2 * terms.kl + 0.5 * 0.2 * terms.rollout_kl)
    # with "any" starts the mean is over the free-running frames only
    model = tiny(chair_attributes, 0.5, rollout_start="any").eval()
    out = run(model, frames, labels, noise, starts=(0, 2))
    terms = model.loss(frames, labels, noise=noise, generator=torch.Generator().manual_seed(5),
                       uniform=torch.tensor([0.0, 0.9]))
    assert float(out.rollout_counted.sum()) == 4
    torch.testing.assert_close(terms.rollout_kl, out.rollout_kl.sum() / 4)
    assert list(terms.as_dict()) == ["loss", "reconstruction", "kl", "rollout_kl"]
    assert list(tiny(chair_attributes, 0.0).loss(frames, labels, noise=noise).as_dict()) == ["loss", "reconstruction",
                                                                                           "kl"]


def test_the_codec_and_the_posterior_learn_nothing_from_the_rollout(chair_attributes, clips):
    """Only the LSTM and the prior head get a gradient from the free-running KL; the gradient still flows
    through the decoded and re-encoded frames (the LSTM's input weights see reads of generated frames)."""
    frames, labels, noise = clips
    model = tiny(chair_attributes, 1.0).eval()
    run(model, frames, labels, noise).rollout_kl.sum().backward()
    learnt = {name.split(".")[0] for name, p in model.named_parameters()
              if p.grad is not None and p.grad.abs().sum() > 0}
    assert learnt == {"temporal"}
    # the same rollout with the reads held constant gives the LSTM different gradients: the reads carry one
    grads = {name: p.grad.clone() for name, p in model.temporal.named_parameters()}
    model.zero_grad()
    original = model.latent.residual

    def held(features):
        return original(features).detach()

    model.latent.residual = held
    run(model, frames, labels, noise).rollout_kl.sum().backward()
    assert not torch.allclose(grads["cell.weight_hh"], model.temporal.cell.weight_hh.grad)


def test_the_rollout_runs_the_codec_as_generation_does_and_leaves_it_training(chair_attributes, clips):
    """In training the codec's dropout is on, but the rollout reads without it (two runs with different global
    seeds agree), and afterwards every module is back in training mode."""
    from videovae.plugins.models.rollout import free_running_divergence
    frames, labels, noise = clips
    model = tiny(chair_attributes, 1.0)
    with torch.no_grad():
        out = model(frames, labels, noise=noise)
        befores = [model.temporal.initial_state(2, generator=torch.Generator().manual_seed(5))]
        inputs = [torch.cat([model.latent.residual(model.encoder(frames[:, t])).params(), out.z[:, t]], -1)
                  for t in range(4)]
        for t in range(3):
            befores.append(model.temporal.step(inputs[t], befores[-1]))
        runs = []
        for seed in (1, 2):
            torch.manual_seed(seed)
            runs.append(free_running_divergence(model, befores, inputs, out.posterior, model.attribute_codes(labels),
                                                torch.tensor([0, 1]))[0])
    torch.testing.assert_close(runs[0], runs[1])
    assert runs[0][0].gt(0).all() and runs[0][1, 0] == 0
    torch.manual_seed(1)
    noisy = model.latent.residual(model.encoder(frames[:, 0]))
    torch.manual_seed(2)
    assert not torch.allclose(noisy.mean, model.latent.residual(model.encoder(frames[:, 0])).mean)  # dropout is on
    assert all(module.training for module in model.modules())


def test_a_state_the_rollout_cannot_select_in_is_one_line():
    from videovae.core.errors import ConfigError as Error
    from videovae.plugins.models.rollout import select
    mask = torch.tensor([True, False])
    state = {"h": (torch.zeros(2, 3), torch.ones(2, 3))}
    picked = select(mask, state, {"h": (torch.ones(2, 3), torch.zeros(2, 3))})
    assert picked["h"][0].tolist() == [[0, 0, 0], [1, 1, 1]] and picked["h"][1].tolist() == [[1, 1, 1], [0, 0, 0]]
    with pytest.raises(Error, match="prior's state as tensors, tuples or dicts, got str"):
        select(mask, "h", "c")


def test_a_clip_of_one_frame_is_one_line(chair_attributes, clips):
    from videovae.core.errors import InputShapeError
    frames, labels, noise = clips
    with pytest.raises(InputShapeError, match="rollout_kl needs clips of at least 2 frames .*, got 1$"):
        tiny(chair_attributes, 1.0).loss(frames[:, :1], labels[:, :1], noise=noise[:, :1])


@pytest.mark.parametrize("weight", [-1.0, "much", float("inf")])
def test_a_bad_weight_is_one_line(chair_attributes, weight):
    with pytest.raises(ConfigError, match="rollout_kl must be a finite number >= 0") as error:
        tiny(chair_attributes, weight)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("start", ["first", "any"])
def test_a_run_with_the_option_logs_the_term_and_resumes_bit_identically(tmp_path, start):
    straight, _ = straight_and_resumed(tmp_path, {"rollout_kl": 0.5, "rollout_start": start})
    rows = [row for row in straight["history"] if "loss" in row]
    assert len(rows) == 4 and all(row["rollout_kl"] > 0 for row in rows)
