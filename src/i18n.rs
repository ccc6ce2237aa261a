//! Language negotiation and message lookup (Fluent catalogues under `locales/`).

use std::{fmt, str::FromStr};

use chrono::{Datelike, NaiveDate};
use fluent_bundle::{concurrent::FluentBundle, FluentResource};
use unic_langid::LanguageIdentifier;

use crate::config::CategorySetting;

/// The languages Vigie speaks. French is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    /// The preferred supported language of an `Accept-Language` header.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else {
            return Lang::Fr;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or_default();
            let Ok(lang) = primary.parse::<Lang>() else {
                continue;
            };
            // French, the default, wins a tie wherever it stands in the list.
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq || (q == bq && lang == Lang::Fr)) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Fr)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unsupported language")]
pub struct UnsupportedLang;

impl FromStr for Lang {
    type Err = UnsupportedLang;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fr" => Ok(Lang::Fr),
            "en" => Ok(Lang::En),
            _ => Err(UnsupportedLang),
        }
    }
}

const FR: &str = include_str!("../locales/fr/vigie.ftl");
const EN: &str = include_str!("../locales/en/vigie.ftl");

/// Both message catalogues, loaded once at start-up.
pub struct I18n {
    fr: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

impl fmt::Debug for I18n {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("I18n")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the {0} message catalogue is malformed")]
pub struct CatalogueError(&'static str);

fn bundle(
    code: &'static str,
    source: &str,
) -> Result<FluentBundle<FluentResource>, CatalogueError> {
    let resource = FluentResource::try_new(source.to_string()).map_err(|_| CatalogueError(code))?;
    let langid: LanguageIdentifier = code.parse().map_err(|_| CatalogueError(code))?;
    let mut bundle = FluentBundle::new_concurrent(vec![langid]);
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .map_err(|_| CatalogueError(code))?;
    Ok(bundle)
}

impl I18n {
    pub fn load() -> Result<Self, CatalogueError> {
        Ok(I18n {
            fr: bundle("fr", FR)?,
            en: bundle("en", EN)?,
        })
    }

    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }

    pub fn has(&self, lang: Lang, key: &str) -> bool {
        self.bundle(lang).has_message(key)
    }

    /// The message `key` in `lang`; the key itself if it is missing (a test
    /// makes sure none is).
    pub fn get(&self, lang: Lang, key: &str) -> String {
        let bundle = self.bundle(lang);
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_string();
        };
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, None, &mut errors)
            .into_owned()
    }

    /// The message `key` with named arguments: `{ $name }` in the catalogue.
    pub fn get_with(&self, lang: Lang, key: &str, args: &[(&str, String)]) -> String {
        let bundle = self.bundle(lang);
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_string();
        };
        let mut fluent_args = fluent_bundle::FluentArgs::new();
        for (name, value) in args {
            // A count is passed as a number, so that the message can choose
            // its plural form (`{ $count -> [one] … *[other] … }`).
            match value.parse::<u32>() {
                Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) => fluent_args.set(*name, n),
                _ => fluent_args.set(*name, value.clone()),
            }
        }
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, Some(&fluent_args), &mut errors)
            .into_owned()
    }

    /// A date written out: "30 novembre 2026" or "30 November 2026"; in
    /// French the first of a month is "1er".
    pub fn date(&self, lang: Lang, date: NaiveDate) -> String {
        let month = self.get(lang, &format!("month-{}", date.month()));
        let day = match (lang, date.day()) {
            (Lang::Fr, 1) => "1er".to_string(),
            (_, d) => d.to_string(),
        };
        format!("{day} {month} {}", date.year())
    }

    /// The label of a category: the configured one if any, else the catalogue's.
    pub fn category(&self, lang: Lang, category: &CategorySetting) -> String {
        let configured = match lang {
            Lang::Fr => category.fr.as_ref(),
            Lang::En => category.en.as_ref(),
        };
        configured
            .cloned()
            .unwrap_or_else(|| self.get(lang, &format!("category-{}", category.key)))
    }

    /// Every message key of a catalogue, for the completeness test.
    pub fn keys(lang: Lang) -> Vec<String> {
        let source = match lang {
            Lang::Fr => FR,
            Lang::En => EN,
        };
        source
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
            .filter(|k| !k.is_empty() && !k.starts_with('#') && !k.starts_with(' '))
            .map(str::to_string)
            .collect()
    }
}

/// A language bound to the catalogues, for templates: `{{ tr.t("key") }}`.
#[derive(Clone, Copy)]
pub struct Tr<'a> {
    pub lang: Lang,
    i18n: &'a I18n,
}

impl<'a> Tr<'a> {
    pub fn new(lang: Lang, i18n: &'a I18n) -> Self {
        Tr { lang, i18n }
    }

    pub fn t(&self, key: &str) -> String {
        self.i18n.get(self.lang, key)
    }

    pub fn date(&self, date: &NaiveDate) -> String {
        self.i18n.date(self.lang, *date)
    }

    /// The attachment limits, written out in megabytes (10^6 bytes, as the
    /// settings count them): "Jusqu'à 25 Mo par fichier et 100 Mo au total."
    pub fn file_limits(&self, file_bytes: &u64, total_bytes: &u64) -> String {
        let mb = |b: u64| (b / 1_000_000).max(1).to_string();
        self.i18n.get_with(
            self.lang,
            "field-attachments-help",
            &[("file", mb(*file_bytes)), ("total", mb(*total_bytes))],
        )
    }

    /// A file's size, rounded up, in kB below a megabyte and in MB (one
    /// decimal) above.
    pub fn size(&self, bytes: &u64) -> String {
        let bytes = *bytes;
        if bytes < 1_000_000 {
            let kb = bytes.div_ceil(1000).max(1).to_string();
            return self.i18n.get_with(self.lang, "size-kb", &[("n", kb)]);
        }
        let tenths = bytes.div_ceil(100_000);
        let mut mb = format!("{}.{}", tenths / 10, tenths % 10);
        if self.lang == Lang::Fr {
            mb = mb.replace('.', ",");
        }
        self.i18n.get_with(self.lang, "size-mb", &[("n", mb)])
    }

    pub fn category(&self, category: &CategorySetting) -> String {
        self.i18n.category(self.lang, category)
    }

    pub fn code(&self) -> &'static str {
        self.lang.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_load_and_hold_the_same_keys() {
        let i18n = I18n::load();
        assert!(i18n.is_ok());
        let mut fr = I18n::keys(Lang::Fr);
        let mut en = I18n::keys(Lang::En);
        fr.sort();
        en.sort();
        assert!(fr.len() > 50);
        assert_eq!(fr, en);
    }

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        let cases = [
            (None, Lang::Fr),
            (Some(""), Lang::Fr),
            (Some("en-GB,en;q=0.9"), Lang::En),
            (Some("de-DE,de;q=0.9,en;q=0.5,fr;q=0.4"), Lang::En),
            (Some("fr-CA,en;q=0.8"), Lang::Fr),
            (Some("en;q=0.2,fr;q=0.9"), Lang::Fr),
            (Some("de"), Lang::Fr),
            (Some("en;q=0"), Lang::Fr),
            (Some("en, fr"), Lang::Fr),
            (Some("en-GB;q=0.8,fr-CA;q=0.8"), Lang::Fr),
            (Some("en;q=NaN"), Lang::Fr),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::negotiate(header), want, "{header:?}");
        }
    }

    #[test]
    fn dates_are_written_out_in_each_language() {
        let Ok(i18n) = I18n::load() else {
            panic!("catalogues")
        };
        let date = NaiveDate::from_ymd_opt(2026, 8, 3).unwrap_or_default();
        assert_eq!(i18n.date(Lang::Fr, date), "3 août 2026");
        assert_eq!(i18n.date(Lang::En, date), "3 August 2026");
        let first = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
        assert_eq!(i18n.date(Lang::Fr, first), "1er décembre 2026");
        assert_eq!(i18n.date(Lang::En, first), "1 December 2026");
    }

    #[test]
    fn a_count_chooses_its_plural_form() {
        let Ok(i18n) = I18n::load() else {
            panic!("catalogues")
        };
        let body = |lang, n: u32| {
            i18n.get_with(
                lang,
                "mail-activity-body",
                &[
                    ("count", n.to_string()),
                    ("inbox", "x".into()),
                    ("reader", "secretary".into()),
                ],
            )
        };
        assert!(body(Lang::Fr, 1).contains(": 1 nouvel élément."));
        assert!(body(Lang::Fr, 4).contains(": 4 nouveaux éléments."));
        assert!(body(Lang::En, 1).contains(": 1 new item."));
        assert!(body(Lang::En, 4).contains(": 4 new items."));
    }

    /// Property tests, 256 cases each by default (proptest's own, read from
    /// the environment): `PROPTEST_CASES=10000 cargo test --lib i18n::tests::properties`
    /// runs more, and `PROPTEST_RNG_SEED=<u64>` makes a run repeatable: the
    /// same seed gives the same inputs. A failing case is also
    /// saved under `proptest-regressions/` and replayed first next time.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        const TAGS: [&str; 14] = [
            "fr", "FR", "fr-CA", "fr-fr", "en", "EN-gb", "en-US", "de", "de-DE", "*", "frr",
            "fr_FR", "", "e",
        ];
        const QS: [&str; 9] = [
            "", ";q=1", ";q=0", ";q=0.001", ";q=0.5", "; q=0.9", ";q=1.0", ";q=x", ";level=1",
        ];

        /// What `negotiate` must answer for a list of (tag, weight) choices:
        /// the supported language of highest weight above zero, French on a
        /// tie or when there is none.
        fn expected(entries: &[(usize, usize)]) -> Lang {
            let weight = |q: usize| -> f32 {
                match QS[q] {
                    ";q=0" => 0.0,
                    ";q=0.001" => 0.001,
                    ";q=0.5" => 0.5,
                    "; q=0.9" => 0.9,
                    _ => 1.0,
                }
            };
            let best = |lang: Lang| {
                entries
                    .iter()
                    .filter(|(t, _)| {
                        let primary = TAGS[*t].split('-').next().unwrap_or_default();
                        primary.eq_ignore_ascii_case(lang.code())
                    })
                    .map(|(_, q)| weight(*q))
                    .filter(|q| *q > 0.0)
                    .fold(0.0f32, f32::max)
            };
            let (fr, en) = (best(Lang::Fr), best(Lang::En));
            if en > fr {
                Lang::En
            } else {
                Lang::Fr
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::default())]

            #[test]
            fn any_accept_language_yields_french_or_english_without_panicking(
                header in any::<String>()
            ) {
                let lang = Lang::negotiate(Some(&header));
                prop_assert!(Lang::ALL.contains(&lang));
            }

            #[test]
            fn header_shaped_text_never_panics(
                pieces in prop::collection::vec(
                    prop::sample::select(vec![
                        "fr", "en", "-", ",", ";", "q=", "0.", "1", "NaN", "inf", "-1", "e9",
                        " ", "\t", "é", "*",
                    ]),
                    0..24,
                )
            ) {
                let header = pieces.concat();
                let lang = Lang::negotiate(Some(&header));
                prop_assert!(Lang::ALL.contains(&lang));
            }

            #[test]
            fn the_heaviest_supported_language_wins_and_french_wins_ties(
                entries in prop::collection::vec((0..TAGS.len(), 0..QS.len()), 0..6),
                spaces in any::<bool>(),
            ) {
                let header = entries
                    .iter()
                    .map(|(t, q)| format!("{}{}", TAGS[*t], QS[*q]))
                    .collect::<Vec<_>>()
                    .join(if spaces { ", " } else { "," });
                prop_assert_eq!(Lang::negotiate(Some(&header)), expected(&entries), "{}", header);
            }
        }
    }
}
