//! The message catalogs: every word a page shows comes from `i18n/en.toml` or `i18n/zh.toml`
//! (templates hold no text of their own). Chinese is chosen when asked for by `?lang=zh`, the
//! `lang` cookie or the browser's `Accept-Language`, English otherwise.

use std::collections::BTreeMap;

/// A page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The `<html lang>` value.
    pub fn html(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "zh" | "zh-cn" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The language an `Accept-Language` header prefers among ours: the first listed that we
    /// have (ignoring weights below the first, as browsers list in order of preference).
    pub fn from_accept(header: &str) -> Option<Lang> {
        header.split(',').find_map(|part| {
            let tag = part.split(';').next()?.trim().to_ascii_lowercase();
            let primary = tag.split('-').next()?;
            match primary {
                "zh" => Some(Lang::Zh),
                "en" => Some(Lang::En),
                _ => None,
            }
        })
    }
}

/// Both catalogs, loaded once.
pub struct Catalogs {
    en: BTreeMap<String, String>,
    zh: BTreeMap<String, String>,
}

impl Catalogs {
    pub fn load() -> Self {
        let parse = |text: &str, name: &str| -> BTreeMap<String, String> {
            toml::from_str(text)
                .unwrap_or_else(|e| panic!("i18n/{name}.toml is built in and must parse: {e}"))
        };
        Self {
            en: parse(include_str!("../i18n/en.toml"), "en"),
            zh: parse(include_str!("../i18n/zh.toml"), "zh"),
        }
    }

    pub fn get(&self, lang: Lang) -> &BTreeMap<String, String> {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_have_the_same_keys_and_no_empty_text() {
        let c = Catalogs::load();
        let en: Vec<_> = c.en.keys().collect();
        let zh: Vec<_> = c.zh.keys().collect();
        assert_eq!(en, zh, "en.toml and zh.toml must translate the same keys");
        for (lang, map) in [("en", &c.en), ("zh", &c.zh)] {
            for (k, v) in map {
                assert!(!v.trim().is_empty(), "{lang}: {k} is empty");
            }
        }
    }

    #[test]
    fn every_key_a_template_uses_is_in_the_catalogs() {
        let c = Catalogs::load();
        for (name, text) in crate::pages::TEMPLATES {
            let mut rest = *text;
            while let Some(at) = rest.find("t.") {
                let before = rest[..at].chars().last();
                rest = &rest[at + 2..];
                if before.is_some_and(|b| b.is_alphanumeric() || b == '_' || b == '.') {
                    continue;
                }
                let key: String = rest
                    .chars()
                    .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                    .collect();
                assert!(
                    c.en.contains_key(&key),
                    "{name} uses t.{key}, which en.toml lacks"
                );
            }
        }
    }

    #[test]
    fn accept_language_picks_the_first_language_we_have() {
        assert_eq!(Lang::from_accept("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::Zh));
        assert_eq!(Lang::from_accept("en-US,en;q=0.9,zh;q=0.5"), Some(Lang::En));
        assert_eq!(Lang::from_accept("fr-FR, zh-TW;q=0.5"), Some(Lang::Zh));
        assert_eq!(Lang::from_accept("fr"), None);
        assert_eq!(Lang::from_accept(""), None);
    }
}
