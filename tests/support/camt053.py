"""ISO 20022 camt.053 bank statements made by the tests, in the shapes banks send.

Versions up to 001.04 write the status as text (``<Sts>BOOK</Sts>``), the payer as
``Dbtr/Nm`` and a transaction's amount under ``AmtDtls/TxAmt``; 001.08 writes ``<Sts><Cd>``,
``Dbtr/Pty/Nm`` and ``TxDtls/Amt``. The reader must take every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape

IBAN = "NL91ABNA0417164300"


@dataclass(frozen=True)
class Tx:
    """One transaction inside an entry (a batch booking has several)."""

    amount: str
    payer: str = ""
    reference: str = ""
    ref: str = ""


@dataclass(frozen=True)
class Entry:
    amount: str
    currency: str = "EUR"
    payer: str = ""
    reference: str = ""
    ref: str = ""  # the entry's AcctSvcrRef
    entry_ref: str = ""  # NtryRef
    credit: bool = True
    status: str = "BOOK"
    reversal: bool = False
    booked: str = "2026-12-01"
    batch: tuple[Tx, ...] = field(default_factory=tuple)


def _tx(version: str, amount: str, currency: str, payer: str, reference: str, ref: str) -> str:
    new = version >= "08"
    refs = f"<Refs><AcctSvcrRef>{ref}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>" if ref else ""
    money = f'<Amt Ccy="{currency}">{amount}</Amt>'
    amount_xml = money if new else f"<AmtDtls><TxAmt>{money}</TxAmt></AmtDtls>"
    party = ""
    if payer:
        name = f"<Nm>{escape(payer)}</Nm>"
        party = f"<RltdPties><Dbtr>{f'<Pty>{name}</Pty>' if new else name}</Dbtr></RltdPties>"
    remittance = f"<RmtInf><Ustrd>{escape(reference)}</Ustrd></RmtInf>" if reference else ""
    return f"<TxDtls>{refs}{amount_xml}{party}{remittance}</TxDtls>"


def _entry(version: str, e: Entry) -> str:
    status = f"<Sts><Cd>{e.status}</Cd></Sts>" if version >= "08" else f"<Sts>{e.status}</Sts>"
    if e.batch:
        details = "".join(_tx(version, t.amount, e.currency, t.payer, t.reference, t.ref) for t in e.batch)
    else:
        details = _tx(version, e.amount, e.currency, e.payer, e.reference, "")
    return (
        "<Ntry>"
        + (f"<NtryRef>{e.entry_ref}</NtryRef>" if e.entry_ref else "")
        + f'<Amt Ccy="{e.currency}">{e.amount}</Amt>'
        + f"<CdtDbtInd>{'CRDT' if e.credit else 'DBIT'}</CdtDbtInd>"
        + ("<RvslInd>true</RvslInd>" if e.reversal else "")
        + status
        + f"<BookgDt><Dt>{e.booked}</Dt></BookgDt><ValDt><Dt>{e.booked}</Dt></ValDt>"
        + (f"<AcctSvcrRef>{e.ref}</AcctSvcrRef>" if e.ref else "")
        + "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        + f"<NtryDtls>{details}</NtryDtls>"
        + "</Ntry>"
    )


def statement(entries: list[Entry], version: str = "02", iban: str = IBAN) -> bytes:
    """A whole camt.053.001.<version> document for ``iban`` with ``entries``."""
    body = "".join(_entry(version, e) for e in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">'
        "<BkToCstmrStmt>"
        "<GrpHdr><MsgId>STMT-1</MsgId><CreDtTm>2026-12-02T06:00:00</CreDtTm></GrpHdr>"
        "<Stmt><Id>STMT-1-1</Id><CreDtTm>2026-12-02T06:00:00</CreDtTm>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-01</Dt></Dt></Bal>"
        f"{body}</Stmt></BkToCstmrStmt></Document>"
    ).encode()
