"""videovae.core.validators: one-line ConfigErrors, on attrs fields and on plain arguments."""

import attrs
import pytest

from videovae.core.errors import ConfigError
from videovae.core.validators import check, choice, positive_int, unit_fraction


def test_check_applies_a_validator_to_a_plain_argument_and_names_it():
    assert check(positive_int, "attribute inference steps", 3) == 3
    with pytest.raises(ConfigError, match=r"^attribute inference steps must be a positive integer, got 0$"):
        check(positive_int, "attribute inference steps", 0)
    with pytest.raises(ConfigError, match=r"^pooling must be one of mean, last, got 'max'$"):
        check(choice("mean", "last"), "pooling", "max")


@pytest.mark.parametrize("bad", ["half", True, 0.0, 1.5, None])
def test_unit_fraction_refuses_non_numbers_and_values_outside_0_1_in_one_line(bad):
    @attrs.frozen
    class Options:
        fraction: float = attrs.field(validator=unit_fraction)

    assert Options(1.0).fraction == 1.0 and Options(0.2).fraction == 0.2
    with pytest.raises(ConfigError, match=r"^fraction must be a number in \(0, 1\], got .*$") as info:
        Options(bad)
    assert "\n" not in str(info.value)
