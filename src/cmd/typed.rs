//! Typed access to a key's value: the WRONGTYPE check every aggregate family
//! makes, written once. `typed_access!` gives a family its four accessors:
//! the value as its type (shared and mutable), and a key looked up for reading
//! (counting a hit or miss) or for writing — None when missing, WRONGTYPE when
//! the key holds another type.

macro_rules! typed_access {
    ($variant:ident, $ty:ty, $of:ident, $of_mut:ident, $read:ident, $write:ident) => {
        #[allow(dead_code)]
        fn $of(value: &$crate::db::Value) -> Result<&$ty, $crate::cmd::CmdError> {
            match value {
                $crate::db::Value::$variant(v) => Ok(v),
                _ => Err($crate::cmd::CmdError::WrongType),
            }
        }

        #[allow(dead_code)]
        fn $of_mut(value: &mut $crate::db::Value) -> Result<&mut $ty, $crate::cmd::CmdError> {
            match value {
                $crate::db::Value::$variant(v) => Ok(v),
                _ => Err($crate::cmd::CmdError::WrongType),
            }
        }

        #[allow(dead_code)]
        fn $read<'d>(
            db: &'d mut $crate::db::Db<'_, '_>,
            key: &[u8],
        ) -> Result<Option<&'d $ty>, $crate::cmd::CmdError> {
            db.read(key).map(|e| $of(&e.value)).transpose()
        }

        #[allow(dead_code)]
        fn $write<'d>(
            db: &'d mut $crate::db::Db<'_, '_>,
            key: &[u8],
        ) -> Result<Option<&'d mut $ty>, $crate::cmd::CmdError> {
            db.get(key).map(|e| $of_mut(&mut e.value)).transpose()
        }
    };
}

pub(crate) use typed_access;
