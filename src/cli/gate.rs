//! `loupe gate`.

use std::path::Path;

use super::Outcome;

/// Arguments of `loupe gate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn main(_store: Option<&Path>, _args: Args) -> anyhow::Result<Outcome> {
    anyhow::bail!("`loupe gate` is not built yet")
}
