"""The content of the structured samples (`make_office_samples.py` writes them and their
expected text from it): a memo (DOCX), a workbook (XLSX), a briefing (PPTX), a help page
(HTML), committee minutes (ODT) and a mail (EML), all about the same fictional retailer as
the PDF samples, so questions across formats find each other.
"""

from __future__ import annotations

import datetime as dt

Table = list[list[str]]
Block = tuple[str, str | list[str] | Table]  # (kind, content): title h1 h2 p list table

MEMO: list[list[Block]] = [[
    ("title", "Leeds Distribution Centre Opening Plan"),
    ("h1", "1 Summary"),
    ("p", "The second distribution centre opens in Leeds on 14 April 2025. It will ship online "
          "orders for the north of England and Scotland within one working day."),
    ("h2", "1.1 Staffing"),
    ("list", ["42 warehouse operatives on two shifts", "6 team leaders",
              "1 site manager, Priya Raman"]),
], [
    ("h1", "2 Budget"),
    ("p", "The fit-out budget is $3.4 million. The table lists the main items in thousands of "
          "dollars."),
    ("table", [["Item", "Cost", "Supplier"], ["Racking", "1,250", "Mecalux"],
               ["Conveyors", "980", "Interroll"], ["Delivery vans", "720", "Ford"],
               ["IT systems", "450", "Manhattan Associates"]]),
    ("p", "Any change above $50,000 needs the approval of the finance director."),
]]
SHEETS: dict[str, list[list[object]]] = {
    "Revenue": [["Region", "Q1", "Q2", "Q3", "Q4"], ["North", 2.9, 3.8, 4.6, 4.1],
                ["South", 2.4, 3.1, 3.9, 3.5], ["Online", 3.6, 4.2, 4.8, 5.3]],
    "Stores": [["Store", "City", "Opened", "Staff"],
               ["Fjell House", "Bergen", dt.date(2019, 5, 2), 14],
               ["Northwind Leeds", "Leeds", dt.date(2021, 9, 17), 22],
               ["Harbour Street", "Glasgow", dt.date(2023, 3, 1), 11]],
    "Notes": [["Revenue figures are in millions of US dollars and unaudited."],
              ["Staff counts are full-time equivalents on 31 December 2024."]],
}
SLIDES: list[tuple[str, list[tuple[int, str]], Table, str]] = [
    ("Northwind Outfitters 2025 Outlook", [(0, "Board briefing, 20 March 2025")], [], ""),
    ("Priorities for 2025", [(0, "Open the Leeds distribution centre in April"),
                             (0, "Grow online revenue to 40% of sales"),
                             (1, "Same-day delivery in Manchester and Glasgow"),
                             (0, "Cut delivery van emissions by 15%")], [],
     "The Leeds opening is on budget at 3.4 million dollars."),
    ("Revenue forecast", [], [["Quarter", "Revenue ($m)"], ["Q1", "10.2"], ["Q2", "12.6"],
                              ["Q3", "14.8"], ["Q4", "14.1"]], ""),
]
FAQ_TITLE = "Returns and Exchanges - Northwind Outfitters"
FAQ: list[Block] = [
    ("h1", "Returns and Exchanges"),
    ("p", "Everything you need to know about sending an item back to Northwind Outfitters."),
    ("h2", "How long do I have to return an item?"),
    ("p", "You can return unworn items within 60 days of delivery. Sale items can be returned "
          "within 30 days."),
    ("h2", "Refund times"),
    ("table", [["Payment method", "Refund time"], ["Card", "3 to 5 working days"],
               ["PayPal", "1 to 2 working days"], ["Gift card", "Immediately"]]),
    ("h2", "What cannot be returned?"),
    ("list", ["Personalised items", "Gas canisters for camping stoves", "Opened food packs"]),
]
MINUTES: list[list[Block]] = [[
    ("h1", "Safety Committee Minutes"),
    ("p", "Meeting held at the Leeds distribution centre on 2 April 2025."),
    ("h2", "Attendees"),
    ("list", ["Priya Raman, site manager", "Tom Okafor, health and safety lead"]),
], [
    ("h2", "Actions"),
    ("table", [["Action", "Owner", "Due"], ["Mark forklift lanes in yellow", "Tom", "10 April"],
               ["Fire drill for both shifts", "Priya", "24 April"]]),
    ("p", "The next meeting is on 7 May 2025."),
]]
MAIL_BODY = ("Hello team,\n\nThe Leeds distribution centre will start shipping online orders on "
             "14 April 2025.\nOrders placed before 2 pm will leave the same day.\n\n"
             "Thanks,\nDana Whitfield\nHead of Logistics")
