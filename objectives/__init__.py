"""Objectives that bobench tunes: scikit-learn estimators, a PyTorch CNN, synthetic functions."""

from __future__ import annotations
