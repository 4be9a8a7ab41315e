//! Flux image-automation setter vectors (`../shared/oracles/flux_setters.json`).
