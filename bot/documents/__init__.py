"""Documents a handler can attach to a reply: invoice PDFs and QR codes."""
