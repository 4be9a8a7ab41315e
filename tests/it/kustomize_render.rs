//! kustomize renders the edited overlay to the intended image.
