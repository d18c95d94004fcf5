"""PGD and the TRADES attack: projection, a reference loop, strength on a trained model, bad input."""
import pytest
import torch
import torch.nn.functional as F

from wmrlib.method.attacks import attack_objective, kl_per_example, pgd, trades_attack


def tiny_model(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 16), torch.nn.Tanh(),
                                torch.nn.Dropout(0.3), torch.nn.Linear(16, 5))
    return model


def tiny_batch(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, 4, 4, generator=g), torch.randint(0, 5, (n,), generator=g)


def reference_pgd(model, x, y, eps, step_size, steps):
    """A plain PGD loop as textbooks write it: CE summed, backward, sign step, clip."""
    model.eval()
    x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y, reduction="sum")
        loss.backward()
        with torch.no_grad():
            x_adv = x_adv + step_size * x_adv.grad.sign()
            x_adv = torch.max(torch.min(x_adv, x + eps), x - eps).clamp(0, 1)
    return x_adv.detach()


@pytest.mark.parametrize("random_start", ["uniform", "normal", "none"])
@pytest.mark.parametrize("alpha,loss", [(0.0, "ce"), (2.0, "ce"), (0.0, "margin")])
def test_pgd_stays_in_ball_and_box(random_start, alpha, loss):
    model, (x, y) = tiny_model(), tiny_batch()
    for eps in (0.0, 0.05, 0.3, 1.0):
        x_adv = pgd(model, x, y, eps=eps, step_size=0.1, steps=5, loss=loss, alpha=alpha,
                    random_start=random_start, restarts=2)
        assert (x_adv - x).abs().max() <= eps + 1e-6
        assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_pgd_matches_reference_loop():
    model, (x, y) = tiny_model(), tiny_batch()
    ours = pgd(model, x, y, eps=0.2, step_size=0.03, steps=10, random_start="none")
    ref = reference_pgd(model, x, y, 0.2, 0.03, 10)
    assert torch.equal(ours, ref)


def test_pgd_alpha_zero_is_the_unweighted_attack_and_alpha_changes_it():
    model, (x, y) = tiny_model(), tiny_batch(64)
    plain = pgd(model, x, y, eps=0.3, step_size=0.05, steps=10, random_start="none")
    zero = pgd(model, x, y, eps=0.3, step_size=0.05, steps=10, alpha=0.0, random_start="none")
    weighted = pgd(model, x, y, eps=0.3, step_size=0.05, steps=10, alpha=3.0, random_start="none")
    assert torch.equal(plain, zero)
    assert not torch.equal(plain, weighted)


def test_pgd_restores_training_mode():
    model, (x, y) = tiny_model(), tiny_batch()
    model.train()
    pgd(model, x, y, eps=0.1, step_size=0.02, steps=2)
    assert model.training
    model.eval()
    pgd(model, x, y, eps=0.1, step_size=0.02, steps=2)
    assert not model.training


def test_pgd_is_reproducible_with_a_generator():
    model, (x, y) = tiny_model(), tiny_batch()
    a = pgd(model, x, y, eps=0.1, step_size=0.02, steps=3, generator=torch.Generator().manual_seed(5))
    b = pgd(model, x, y, eps=0.1, step_size=0.02, steps=3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_restarts_keep_the_best_objective_per_example():
    model, (x, y) = tiny_model(), tiny_batch(64)
    kwargs = dict(eps=0.3, step_size=0.05, steps=3, alpha=1.0)
    one = pgd(model, x, y, restarts=1, generator=torch.Generator().manual_seed(3), **kwargs)
    three = pgd(model, x, y, restarts=3, generator=torch.Generator().manual_seed(3), **kwargs)
    model.eval()
    with torch.no_grad():
        v1 = attack_objective(model(one), y, alpha=1.0)
        v3 = attack_objective(model(three), y, alpha=1.0)
    assert (v3 >= v1 - 1e-6).all()
    assert (v3 > v1 + 1e-6).any()


def test_pgd_lowers_accuracy_of_a_trained_model(trained_smallcnn, mnist_test):
    model = trained_smallcnn
    x = mnist_test.images[:256].float() / 255
    y = mnist_test.labels[:256]
    with torch.no_grad():
        clean = (model(x).argmax(1) == y).float().mean()
    accuracies = []
    for eps in (0.05, 0.1, 0.2):
        x_adv = pgd(model, x, y, eps=eps, step_size=eps / 8, steps=20)
        with torch.no_grad():
            accuracies.append((model(x_adv).argmax(1) == y).float().mean().item())
    assert clean > 0.9
    assert accuracies[0] < clean
    assert accuracies[0] > accuracies[1] > accuracies[2]
    assert accuracies[2] < 0.3


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_weighted_attack_reaches_a_higher_weighted_objective(trained_smallcnn, mnist_test, alpha):
    model = trained_smallcnn
    x = mnist_test.images[:256].float() / 255
    y = mnist_test.labels[:256]
    kwargs = dict(eps=0.1, step_size=0.01, steps=20, random_start="none")
    plain = pgd(model, x, y, **kwargs)
    weighted = pgd(model, x, y, alpha=alpha, **kwargs)
    with torch.no_grad():
        value_plain = attack_objective(model(plain), y, alpha=alpha).sum()
        value_weighted = attack_objective(model(weighted), y, alpha=alpha).sum()
    assert value_weighted > value_plain


def test_trades_attack_increases_kl_and_stays_in_ball():
    model, (x, y) = tiny_model(), tiny_batch(64)
    model.train()
    x_adv = trades_attack(model, x, eps=0.2, step_size=0.05, steps=10)
    assert model.training
    assert (x_adv - x).abs().max() <= 0.2 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    model.eval()
    with torch.no_grad():
        assert kl_per_example(model(x), model(x_adv)).mean() > 1e-3
    weighted = trades_attack(model, x, y=y, alpha=2.0, eps=0.2, step_size=0.05, steps=10,
                             random_start="none")
    plain = trades_attack(model, x, eps=0.2, step_size=0.05, steps=10, random_start="none")
    assert not torch.equal(weighted, plain)


def test_trades_attack_needs_labels_when_weighted():
    model, (x, _) = tiny_model(), tiny_batch()
    with pytest.raises(ValueError, match="labels"):
        trades_attack(model, x, eps=0.1, step_size=0.01, steps=1, alpha=1.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=-0.1), "eps"), (dict(eps=1.5), "eps"), (dict(steps=-1), "steps"),
    (dict(step_size=0.0), "step_size"), (dict(alpha=-1.0), "alpha"), (dict(loss="hinge"), "loss"),
    (dict(random_start="zeros"), "random_start"), (dict(restarts=0), "restarts"),
])
def test_pgd_bad_arguments(kwargs, match):
    model, (x, y) = tiny_model(), tiny_batch()
    args = dict(eps=0.1, step_size=0.01, steps=2) | kwargs
    with pytest.raises(ValueError, match=match):
        pgd(model, x, y, **args)


def test_pgd_bad_inputs():
    model, (x, y) = tiny_model(), tiny_batch()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pgd(model, x * 3, y, eps=0.1, step_size=0.01, steps=1)
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        pgd(model, bad, y, eps=0.1, step_size=0.01, steps=1)
    with pytest.raises(ValueError, match="labels"):
        pgd(model, x, y + 5, eps=0.1, step_size=0.01, steps=1)
    with pytest.raises(ValueError, match="empty"):
        pgd(model, x[:0], y[:0], eps=0.1, step_size=0.01, steps=1)


class _Wrapper(torch.nn.Module):
    """A module made on the spot around a model (as the logit-scaling attack makes one)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return 2 * self.model(x)


def test_eval_mode_gives_each_submodule_back_its_own_mode():
    """A fresh wrapper is in training mode, its model in eval mode: after an attack on the wrapper
    the model is in eval mode again (its dropout off), and a model in training mode stays in it."""
    from wmrlib.method.attacks import eval_mode

    model, (x, y) = tiny_model().eval(), tiny_batch()
    wrapper = _Wrapper(model)
    assert wrapper.training and not model.training
    with eval_mode(wrapper):
        assert not any(m.training for m in wrapper.modules())
    assert wrapper.training and not any(m.training for m in model.modules())
    pgd(wrapper, x, y, eps=0.1, step_size=0.05, steps=2)
    assert not any(m.training for m in model.modules())
    with torch.no_grad():  # so the model's outputs do not depend on the random stream
        torch.manual_seed(1)
        first = model(x)
        torch.manual_seed(2)
        assert torch.equal(model(x), first)
    model.train()
    pgd(model, x, y, eps=0.1, step_size=0.05, steps=2)
    assert all(m.training for m in model.modules())
