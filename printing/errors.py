"""Typed printing failures, each with a message a nurse can act on.

`str(error)` is the Chinese message for the screen; `error.detail` keeps the technical cause for the log.
`retryable` tells the print queue whether trying again later can help without changing settings.
"""

from __future__ import annotations


class PrintingError(Exception):
    """Base of all printing failures."""

    message = "打印失败，请重试。"
    retryable = False

    def __init__(self, detail: str = "", message: str | None = None):
        self.detail = detail
        super().__init__(message or self.message)

    def __reduce__(self):
        return (self.__class__, (self.detail, str(self)))


class PrinterOffline(PrintingError):
    """The printer cannot be reached or does not answer."""

    message = "连接不上打印机。请确认打印机已开机、蓝牙已配对并在旁边，然后重试。"
    retryable = True


class PaperOut(PrintingError):
    """The printer reports that the paper roll is empty."""

    message = "打印机没纸了。请装上新纸卷，合好盖子后重试。"
    retryable = True


class CoverOpen(PrintingError):
    """The printer reports its cover open."""

    message = "打印机盖子没有盖好。请合上盖子后重试。"
    retryable = True


class PrinterError(PrintingError):
    """The printer reports a fault (cutter jam, overheating, mechanism error)."""

    message = "打印机出故障了。请关掉打印机电源，过几秒再打开后重试；仍不行请联系管理员。"
    retryable = False


class PrinterSettingError(PrintingError):
    """The printer setting string is wrong or names a connection this device cannot make."""

    message = "打印机设置有误，请让管理员检查打印机设置。"
    retryable = False


class FontMissing(PrintingError):
    """No Chinese font is available for picture (raster) printing or preview."""

    message = "本机缺少中文字体，无法生成打印图像。请联系管理员。"
    retryable = False


class NeedsConfirmation(PrintingError):
    """A document already printed would be printed again; the caller must confirm a reprint."""

    message = "这张单子已经打印过了。确定要再打印一份吗？"
    retryable = False

    def __init__(self, detail: str = "", message: str | None = None, job_id: int | None = None):
        super().__init__(detail, message)
        self.job_id = job_id


class PreviewError(PrintingError):
    """The preview met bytes it does not understand (it reads only what this package produces)."""

    message = "无法生成打印预览。"
