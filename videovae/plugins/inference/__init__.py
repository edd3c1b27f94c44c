"""Attribute inference φ_att (Sec. 3.2, Eq. 3): the classifiers behind semi-supervised training (Sec. 4.1)."""

from .attribute_net import AttributeInferenceNet, attribute_loss, build_attribute_net

__all__ = ["AttributeInferenceNet", "attribute_loss", "build_attribute_net"]
