//! The languages replies and help are written in.

/// The language of help texts, usage lines and error messages.
///
/// A portal has one; the session layer picks texts with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Locale {
    /// English.
    #[default]
    En,
    /// Japanese.
    Ja,
}

impl Locale {
    /// Picks a locale from a language tag such as `ja`, `ja-JP` or `en-US`;
    /// anything not Japanese is English.
    ///
    /// ```
    /// use salesiq_commands::Locale;
    /// assert_eq!(Locale::from_tag("ja-JP"), Locale::Ja);
    /// assert_eq!(Locale::from_tag("fr"), Locale::En);
    /// ```
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("ja") {
            Self::Ja
        } else {
            Self::En
        }
    }
}

/// A text in every supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Localized {
    en: &'static str,
    ja: &'static str,
}

impl Localized {
    pub(crate) const fn new(en: &'static str, ja: &'static str) -> Self {
        Self { en, ja }
    }

    /// The text in `locale`.
    pub fn get(&self, locale: Locale) -> &'static str {
        match locale {
            Locale::En => self.en,
            Locale::Ja => self.ja,
        }
    }
}

impl std::fmt::Display for Localized {
    /// Writes the English text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.en)
    }
}
