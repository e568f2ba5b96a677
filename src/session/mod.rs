//! Sessions: the YAML file a user opens, loaded, validated and resolved.

pub mod model;

pub use model::*;
