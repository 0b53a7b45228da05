//! `--name value` and `--flag` arguments.

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed arguments.
#[derive(Debug, Default)]
pub(crate) struct Args {
    values: HashMap<String, String>,
}

/// Flags that take no value.
const FLAGS: [&str; 2] = ["direct", "gateway"];

impl Args {
    pub(crate) fn parse(args: &[String]) -> Result<Self, String> {
        let mut values = HashMap::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let name = arg
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --name, got {arg:?}"))?;
            let value = if FLAGS.contains(&name) {
                "true".to_owned()
            } else {
                args.next()
                    .ok_or_else(|| format!("--{name} needs a value"))?
                    .clone()
            };
            values.insert(name.to_owned(), value);
        }
        Ok(Self { values })
    }

    /// A value, or `default` when not given.
    pub(crate) fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            Some(text) => text
                .parse()
                .map_err(|_| format!("--{name}: cannot read {text:?}")),
            None => Ok(default),
        }
    }

    /// A value that must be given.
    pub(crate) fn need<T: FromStr>(&self, name: &str) -> Result<T, String> {
        let text = self
            .values
            .get(name)
            .ok_or_else(|| format!("--{name} is needed"))?;
        text.parse()
            .map_err(|_| format!("--{name}: cannot read {text:?}"))
    }

    /// `--pid`: the server process whose memory is read, if given.
    pub(crate) fn pid(&self) -> Result<Option<u32>, String> {
        self.get("pid", 0).map(|p| (p != 0).then_some(p))
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub(crate) fn text(&self, name: &str, default: &str) -> String {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }
}
