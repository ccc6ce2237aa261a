//! Enums stored and shown under fixed names: one macro writes the enum, its
//! list of variants, its name for each and the way back, so that a typo in a
//! name cannot hide in one of seven hand-written copies. The storage side
//! (diesel's `Text`) is in `db/types.rs`.

/// `named! { /// doc  pub enum Kind { /// doc  Variant => "stored_name", … } }`
/// writes the enum (with the derives the storage layer needs), `ALL`,
/// `as_str`, `parse` and `Display`.
macro_rules! named {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            diesel::expression::AsExpression,
            diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; $crate::domain::named::count!($($variant)+)] =
                [$($name::$variant),+];

            /// The name it is stored and shown under.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            /// The variant stored under `name`, if any.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.as_str() == name)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// The number of token trees it is given, as a constant.
macro_rules! count {
    () => { 0usize };
    ($head:tt $($tail:tt)*) => { 1usize + $crate::domain::named::count!($($tail)*) };
}

pub(crate) use count;
pub(crate) use named;
