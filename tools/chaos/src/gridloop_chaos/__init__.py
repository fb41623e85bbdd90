"""The fault suite (`make chaos`): the whole system, the city simulator, faults, an audit."""
