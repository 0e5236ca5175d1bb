"""Regenerates data/sample/: a small demo corpus in eight formats, written for this project (CC0).

Usage: .venv/bin/python scripts/make_sample_corpus.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests import docgen  # noqa: E402

OUT = ROOT / "data" / "sample"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    docgen.make_pdf(OUT / "lighthouses.pdf", [
        ["# A short history of lighthouses",
         "The Pharos of Alexandria, finished around 280 BC on the island of Pharos, is the most famous lighthouse "
         "of antiquity and was counted among the Seven Wonders of the Ancient World. Its fire was visible to "
         "ships many kilometres out at sea.",
         "For most of history a lighthouse was simply a tower with an open fire or candles at the top. Coal "
         "fires, and later oil lamps with reflectors, made the light stronger but wasted most of it."],
        ["# The Fresnel lens",
         "In 1822 the French physicist Augustin-Jean Fresnel presented a lens built from concentric rings of "
         "glass prisms. It bent the light of a single lamp into a strong horizontal beam and was far lighter "
         "than a solid lens of the same power. Fresnel lenses were classed in orders by size; a first-order "
         "lens was the largest and was used for major coastal lights.",
         "# Automation",
         "During the twentieth century electric lamps, timers and radio beacons replaced the keepers at most "
         "lighthouses. Today most lighthouses are automated and many are maintained as historic monuments."],
    ], title="A short history of lighthouses")
    (OUT / "honeybees.md").write_text(
        "# Honeybee colonies\n\nA honeybee colony has one queen, a few hundred drones and tens of thousands of "
        "worker bees. The queen lays up to about 2,000 eggs a day during the peak of the season.\n\n"
        "## The waggle dance\n\nA forager that has found a good source of nectar performs a waggle dance on the "
        "comb. The angle of the waggle run relative to vertical shows the direction of the food relative to the "
        "sun, and the duration of the run shows the distance. Karl von Frisch decoded the dance and shared the "
        "1973 Nobel Prize in Physiology or Medicine for this work.\n\n"
        "## Workers\n\nWorker bees change jobs as they age: young workers clean cells and feed larvae, middle-aged "
        "workers build comb and guard the entrance, and the oldest workers forage outside the hive.\n")
    (OUT / "water-cycle.txt").write_text(
        "The water cycle\n\nThe water cycle describes how water moves between the oceans, the air and the land. "
        "Heat from the sun evaporates water from oceans, lakes and plants.\n\n"
        "Condensation\n\nAs moist air rises it cools, and the water vapour condenses into tiny droplets that form "
        "clouds.\n\nPrecipitation\n\nWhen the droplets grow heavy enough they fall as rain, snow, sleet or hail. "
        "Some of this water runs off into rivers and back to the sea, and some soaks into the ground and "
        "recharges aquifers.\n")
    docgen.make_docx(OUT / "northwind-handbook.docx", [
        ("h1", "Northwind Cartography employee handbook"),
        ("p", "This handbook describes the working arrangements at Northwind Cartography, a fictional map-making "
              "company used in the Groundwork demo corpus."),
        ("h2", "Working hours"),
        ("p", "Core hours are 10:00 to 15:00 from Monday to Thursday. Outside core hours employees choose their "
              "own schedule, as long as they work 37 hours a week."),
        ("h2", "Leave"),
        ("p", "Every employee receives 27 days of paid annual leave, plus public holidays. Up to five unused "
              "days can be carried over into the first quarter of the next year."),
        ("h2", "Expenses"),
        ("p", "Travel must be booked through the travel desk. Meals on business trips are reimbursed up to "
              "45 euros per day with receipts."),
        ("table", "Item|Limit;Hotel night|160 EUR;Meals per day|45 EUR;Taxi without approval|30 EUR"),
    ])
    docgen.make_pptx(OUT / "q3-review.pptx", [
        ("Northwind Q3 review", ["Revenue grew 14% year on year to 3.2 million euros",
                                 "The coastal survey contract with the port of Vigo was signed in August"]),
        ("Products", ["The hiking map series sold 41,000 copies",
                      "The new tide-chart app reached 12,500 monthly active users"]),
        ("Next quarter", ["Hire two GIS analysts", "Release the offline mode of the tide-chart app"]),
    ])
    with open(OUT / "tide-stations.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["station", "country", "mean tidal range (m)", "established"])
        writer.writerows([["Brest", "France", "4.6", "1846"], ["Vigo", "Spain", "2.4", "1943"],
                          ["Newlyn", "United Kingdom", "3.5", "1915"], ["Cuxhaven", "Germany", "3.0", "1843"]])
    docgen.make_xlsx(OUT / "survey-budget.xlsx", "Budget", [
        ["Item", "Cost (EUR)", "Owner"], ["Survey vessel charter", 48000, "Operations"],
        ["Sonar equipment rental", 12500, "Engineering"], ["Data processing", 9000, "GIS team"]])
    docgen.make_eml(
        OUT / "maintenance-window.eml", "it-desk@northwind.example", "staff@northwind.example",
        "Planned maintenance of the map tile server",
        "Hello all,\n\nThe map tile server will be offline for maintenance on Saturday 14 November from 06:00 "
        "to 09:00 UTC. During the window the tide-chart app will show cached tiles only.\n\n"
        "If you have questions, reply to this message or call extension 4410.\n\nThe IT desk\n")
    (OUT / "moon-phases.html").write_text(
        "<!doctype html><html><head><title>Phases of the Moon</title></head><body>"
        "<h1>Phases of the Moon</h1><p>The Moon does not make its own light; we see the half lit by the sun. "
        "As the Moon orbits the Earth, the lit part we can see changes, which produces the phases.</p>"
        "<h2>The cycle</h2><p>A full cycle from new moon to new moon, the synodic month, lasts about 29.5 days. "
        "The phases are new moon, waxing crescent, first quarter, waxing gibbous, full moon, waning gibbous, "
        "last quarter and waning crescent.</p></body></html>")
    print(f"wrote {len(list(OUT.iterdir()))} files to {OUT}")


if __name__ == "__main__":
    main()
