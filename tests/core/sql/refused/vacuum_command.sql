-- error: VACUUM is not allowed
VACUUM
