"""The rotation planner for rvrota.scenario/1 (see shared/spec/rotation-format.md)."""
