//! `loupe ratings`.

use std::path::Path;

use super::Outcome;

/// Arguments of `loupe ratings`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn main(_store: Option<&Path>, _args: Args) -> anyhow::Result<Outcome> {
    anyhow::bail!("`loupe ratings` is not built yet")
}
