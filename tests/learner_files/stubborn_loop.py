# Swallows every exception, so only a hard kill ends it.
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
