"""PGD-AT and TRADES losses against reference formulas written out here."""
import pytest
import torch
import torch.nn.functional as F

from wmrlib.method.losses import pgd_at_loss, trades_loss
from wmrlib.method.risk import importance_weights


@pytest.fixture
def batch():
    torch.manual_seed(0)
    return torch.randn(16, 10), torch.randn(16, 10), torch.randint(0, 10, (16,))


def test_pgd_at_alpha_zero_is_cross_entropy(batch):
    _, adv, y = batch
    assert torch.allclose(pgd_at_loss(adv, y), F.cross_entropy(adv, y))


def test_pgd_at_weighted_matches_formula(batch):
    _, adv, y = batch
    w = importance_weights(adv, y, 0.5)
    expected = (w * F.cross_entropy(adv, y, reduction="none")).mean()
    assert torch.allclose(pgd_at_loss(adv, y, alpha=0.5), expected)


def test_trades_alpha_zero_matches_reference_kl(batch):
    nat, adv, y = batch
    # TRADES' reference: CE + beta * KLDivLoss(sum)(log_softmax(adv), softmax(nat)) / batch
    kl = torch.nn.KLDivLoss(reduction="sum")(F.log_softmax(adv, 1), F.softmax(nat, 1)) / len(y)
    expected = F.cross_entropy(nat, y) + 6.0 * kl
    assert torch.allclose(trades_loss(nat, adv, y, beta=6.0), expected, atol=1e-6)


def test_trades_weights_only_the_robust_term(batch):
    nat, adv, y = batch
    w = importance_weights(adv, y, 2.0)
    kl_i = torch.nn.KLDivLoss(reduction="none")(F.log_softmax(adv, 1), F.softmax(nat, 1)).sum(1)
    expected = F.cross_entropy(nat, y) + 1.5 * (w * kl_i).mean()
    assert torch.allclose(trades_loss(nat, adv, y, beta=1.5, alpha=2.0), expected, atol=1e-6)


def test_detach_weights_keeps_value_changes_gradient(batch):
    _, adv, y = batch
    adv = adv.clone().requires_grad_(True)
    inside = pgd_at_loss(adv, y, alpha=1.0)
    detached = pgd_at_loss(adv, y, alpha=1.0, detach_weights=True)
    assert torch.allclose(inside, detached)
    (g1,) = torch.autograd.grad(inside, adv)
    (g2,) = torch.autograd.grad(detached, adv)
    assert not torch.allclose(g1, g2)


def test_negative_beta_or_alpha_rejected(batch):
    nat, adv, y = batch
    with pytest.raises(ValueError, match="beta"):
        trades_loss(nat, adv, y, beta=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        pgd_at_loss(adv, y, alpha=-1.0)
