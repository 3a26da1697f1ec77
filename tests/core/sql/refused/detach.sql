-- error: DETACH is not allowed
DETACH wh
