//! The look of a page, from its query parameters: `theme=light|dark|system` (default
//! system), `accent=#RRGGBB` (or `RRGGBB`, `#RGB`) and `font` (a font installed on the
//! reader's device: letters, digits, spaces and hyphens, or `system`, `serif`, `mono`).
//! Anything else is refused with a clear message, so nothing a query carries reaches the
//! page's CSS unchecked.

/// A checked look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// `light`, `dark` or `system`.
    pub mode: &'static str,
    /// The accent colour, `#rrggbb`.
    pub accent: String,
    /// Text on the accent colour: black or white, whichever reads better.
    pub on_accent: &'static str,
    /// The CSS `font-family` value.
    pub font_stack: String,
    /// The parameters as given (checked), to carry across links and forms.
    pub params: Vec<(&'static str, String)>,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            mode: "system",
            accent: "#4f46e5".into(),
            on_accent: "#ffffff",
            font_stack: SYSTEM_FONTS.into(),
            params: Vec::new(),
        }
    }
}

const SYSTEM_FONTS: &str =
    "system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif";

/// The parameter that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam {
    /// The parameter.
    pub field: &'static str,
    /// Why.
    pub issue: &'static str,
}

impl Theme {
    /// Checks the look's parameters (each optional).
    pub fn parse(
        theme: Option<&str>,
        accent: Option<&str>,
        font: Option<&str>,
    ) -> Result<Theme, BadParam> {
        let mut t = Theme::default();
        if let Some(m) = theme {
            t.mode = match m {
                "light" => "light",
                "dark" => "dark",
                "system" => "system",
                _ => {
                    return Err(BadParam {
                        field: "theme",
                        issue: "must be light, dark or system",
                    })
                }
            };
            t.params.push(("theme", t.mode.to_string()));
        }
        if let Some(a) = accent {
            let hex = a.strip_prefix('#').unwrap_or(a);
            let full = match hex.len() {
                3 => hex.chars().flat_map(|c| [c, c]).collect::<String>(),
                6 => hex.to_string(),
                _ => String::new(),
            };
            if full.is_empty() || !full.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(BadParam {
                    field: "accent",
                    issue: "must be a colour like #4f46e5",
                });
            }
            let full = full.to_ascii_lowercase();
            t.on_accent = if luminance(&full) > 0.36 {
                "#111111"
            } else {
                "#ffffff"
            };
            t.accent = format!("#{full}");
            t.params.push(("accent", full));
        }
        if let Some(f) = font {
            t.font_stack = match f {
                "system" => SYSTEM_FONTS.to_string(),
                "serif" => "Georgia, \"Times New Roman\", serif".to_string(),
                "mono" => "ui-monospace, Menlo, Consolas, monospace".to_string(),
                _ if !f.is_empty()
                    && f.len() <= 40
                    && f.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-') =>
                {
                    format!("\"{f}\", {SYSTEM_FONTS}")
                }
                _ => {
                    return Err(BadParam {
                        field: "font",
                        issue: "must be a font name of letters, digits, spaces and hyphens",
                    })
                }
            };
            t.params.push(("font", f.to_string()));
        }
        Ok(t)
    }

    /// The parameters as a query string tail (`&theme=dark&…`), empty when none.
    pub fn query(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| {
                format!(
                    "&{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .collect()
    }
}

/// The relative luminance of `rrggbb` (WCAG).
fn luminance(hex: &str) -> f64 {
    let ch = |i: usize| {
        let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * ch(0) + 0.7152 * ch(2) + 0.0722 * ch(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_are_checked() {
        let t = Theme::parse(Some("dark"), Some("FFCC00"), Some("Inter")).expect("valid");
        assert_eq!(t.mode, "dark");
        assert_eq!(t.accent, "#ffcc00");
        assert_eq!(t.on_accent, "#111111");
        assert!(t.font_stack.starts_with("\"Inter\""));
        assert_eq!(t.query(), "&theme=dark&accent=ffcc00&font=Inter");
        assert_eq!(
            Theme::parse(None, Some("#123"), None).expect("ok").accent,
            "#112233"
        );
        assert_eq!(
            Theme::parse(Some("blue"), None, None).unwrap_err().field,
            "theme"
        );
        assert_eq!(
            Theme::parse(None, Some("red;}"), None).unwrap_err().field,
            "accent"
        );
        assert_eq!(
            Theme::parse(None, None, Some("x\";}body{"))
                .unwrap_err()
                .field,
            "font"
        );
    }
}
