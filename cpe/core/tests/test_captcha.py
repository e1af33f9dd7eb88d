from cpe.core.captcha import captcha_ok, captcha_question


def test_captcha():
    q, a = captcha_question(7, 5, "+")
    assert (q, a) == ("7 + 5 = ?", 12)
    assert captcha_question(3, 9, "-") == ("9 - 3 = ?", 6)
    assert captcha_ok(12, " 12 ") and not captcha_ok(12, "13")
    assert not captcha_ok(None, "12") and not captcha_ok(12, "abc")
