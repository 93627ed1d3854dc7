"""Input -> expected spoken words for the English normalizer (en-US unless marked).

Each row: (written text, the words a person would say, heard). ``heard`` marks the rows
the ASR round trip (tests/test_say_it_right.py) sends through the real server: plain
sentences whose words faster-whisper tiny.en writes back predictably.
"""

from __future__ import annotations

TABLE: list[tuple[str, str, bool]] = [
    # temperatures, decimals, negatives
    (
        "The living room is 21.5 °C.",
        "The living room is twenty-one point five degrees Celsius.",
        True,
    ),
    ("It is -5°C outside.", "It is minus five degrees Celsius outside.", True),
    ("The oven is at 350 °F.", "The oven is at three hundred fifty degrees Fahrenheit.", True),
    ("Set the heating to 1 °C higher.", "Set the heating to one degree Celsius higher.", False),
    ("The freezer is at −18 ℃.", "The freezer is at minus eighteen degrees Celsius.", False),
    ("The pool is 27.25 degrees.", "The pool is twenty-seven point two five degrees.", False),
    ("Pi is roughly 3.14159.", "Pi is roughly three point one four one five nine.", False),
    ("The balance is -12.", "The balance is minus twelve.", False),
    # integers, thousands, big numbers, leading zeros
    (
        "There are 1,234,567 people.",
        "There are one million two hundred thirty-four thousand five hundred sixty-seven people.",
        False,
    ),
    ("You walked 10k steps today.", "You walked ten thousand steps today.", True),
    ("Agent 007 is here.", "Agent zero zero seven is here.", False),
    ("The dryer runs 2x faster.", "The dryer runs two times faster.", False),
    # ordinals and ranges
    ("You came 3rd in the race.", "You came third in the race.", True),
    (
        "The 2nd and 21st floors are closed.",
        "The second and twenty-first floors are closed.",
        False,
    ),
    ("Expect 5–10 cm of snow.", "Expect five to ten centimeters of snow.", True),
    ("Humidity will be 20–25%.", "Humidity will be twenty to twenty-five percent.", True),
    ("Pages 5-10 are missing.", "Pages five to ten are missing.", False),
    (
        "Between 18 °C and 21 °C.",
        "Between eighteen degrees Celsius and twenty-one degrees Celsius.",
        False,
    ),
    ("It will be 5 to 8 °C tonight.", "It will be five to eight degrees Celsius tonight.", False),
    # percentages
    ("Humidity is 45%.", "Humidity is forty-five percent.", True),
    ("The battery is at 12.5 %.", "The battery is at twelve point five percent.", True),
    # times
    ("The alarm is set for 6:30 AM.", "The alarm is set for six thirty AM.", True),
    ("Dinner is at 6:45pm.", "Dinner is at six forty-five PM.", False),
    ("The train leaves at 18:45.", "The train leaves at six forty-five PM.", True),
    ("Wake me at 7 a.m. tomorrow.", "Wake me at seven AM tomorrow.", False),
    ("Lunch is at 12:00.", "Lunch is at noon.", False),
    ("The lights go off at 00:00.", "The lights go off at midnight.", False),
    ("The bus comes at 6:05.", "The bus comes at six oh five.", False),
    ("The meeting starts at 9:00.", "The meeting starts at nine o'clock.", False),
    ("The shift ends at 22:00.", "The shift ends at ten PM.", False),
    ("The timer ends at 10:15:30.", "The timer ends at ten fifteen and thirty seconds.", False),
    # dates and years
    (
        "The party is on 2024-11-25.",
        "The party is on November twenty-fifth, twenty twenty-four.",
        False,
    ),
    ("It was due 11/25/2024.", "It was due November twenty-fifth, twenty twenty-four.", False),
    (
        "See you on November 25, 2024.",
        "See you on November twenty-fifth, twenty twenty-four.",
        False,
    ),
    (
        "It opened on 25 November 2024.",
        "It opened on the twenty-fifth of November, twenty twenty-four.",
        False,
    ),
    ("The house was built in 1998.", "The house was built in nineteen ninety-eight.", True),
    ("The sensor was installed in 2005.", "The sensor was installed in two thousand five.", False),
    ("Music from the 1980s.", "Music from the nineteen eighties.", False),
    ("Due on Dec. 3rd.", "Due on December third.", False),
    # electricity
    (
        "Energy use today is 12.4 kWh.",
        "Energy use today is twelve point four kilowatt hours.",
        True,
    ),
    ("The heater draws 2000 W.", "The heater draws two thousand watts.", True),
    ("Solar output is 3.2 kW.", "Solar output is three point two kilowatts.", True),
    ("The mains voltage is 230 V.", "The mains voltage is two hundred thirty volts.", True),
    ("The charger gives 16 A.", "The charger gives sixteen amps.", False),
    ("The grid runs at 50 Hz.", "The grid runs at fifty hertz.", True),
    ("The price per kWh went up.", "The price per kilowatt hour went up.", False),
    # light, air, sound
    ("The hallway is at 300 lx.", "The hallway is at three hundred lux.", False),
    (
        "Carbon dioxide is at 800 ppm.",
        "Carbon dioxide is at eight hundred parts per million.",
        True,
    ),
    ("PM2.5 is 12 µg/m³.", "PM two point five is twelve micrograms per cubic meter.", False),
    (
        "Fine dust is 35 µg/m³ today.",
        "Fine dust is thirty-five micrograms per cubic meter today.",
        False,
    ),
    ("The noise level is 40 dB.", "The noise level is forty decibels.", True),
    # pressure
    ("Air pressure is 1013 hPa.", "Air pressure is one thousand thirteen hectopascals.", False),
    ("Pressure dropped to 990 mbar.", "Pressure dropped to nine hundred ninety millibars.", False),
    # length, speed
    ("We had 12 mm of rain.", "We had twelve millimeters of rain.", True),
    ("The plant grew 4 cm.", "The plant grew four centimeters.", False),
    ("The hose is 15 m long.", "The hose is fifteen meters long.", True),
    ("The shop is 1 km away.", "The shop is one kilometer away.", True),
    ("The store is 2.5 km away.", "The store is two point five kilometers away.", True),
    (
        "Wind is 15 km/h from the north.",
        "Wind is fifteen kilometers per hour from the north.",
        True,
    ),
    ("Wind gusts reach 12 m/s.", "Wind gusts reach twelve meters per second.", True),
    ("The speed limit is 30 mph.", "The speed limit is thirty miles per hour.", True),
    ("The TV is 55 in.", "The TV is fifty-five inches.", True),
    ("The fence is 6 ft tall.", "The fence is six feet tall.", True),
    # mass, volume
    ("The parcel weighs 2 kg.", "The parcel weighs two kilograms.", True),
    ("Add 500 g of flour.", "Add five hundred grams of flour.", True),
    ("The dog weighs 40 lb.", "The dog weighs forty pounds.", True),
    ("Pour 8 oz of milk.", "Pour eight ounces of milk.", True),
    ("The kettle holds 1.5 L.", "The kettle holds one point five liters.", True),
    ("Take 250 mL of water.", "Take two hundred fifty milliliters of water.", True),
    ("The tank holds 5 gal.", "The tank holds five gallons.", False),
    # money
    ("The coffee costs $3.50.", "The coffee costs three dollars and fifty cents.", True),
    ("It costs €12.99 today.", "It costs twelve euros and ninety-nine cents today.", False),
    ("The ticket is £3.20.", "The ticket is three pounds and twenty pence.", False),
    ("The bill is $1.", "The bill is one dollar.", False),
    ("A stamp costs $0.75.", "A stamp costs seventy-five cents.", False),
    ("They raised $1.5 million.", "They raised one point five million dollars.", False),
    ("Electricity costs 30 EUR.", "Electricity costs thirty euros.", False),
    # phone numbers, versions, addresses
    (
        "Call 555-123-4567 now.",
        "Call five five five, one two three, four five six seven now.",
        False,
    ),
    ("Call (555) 123-4567.", "Call five five five, one two three, four five six seven.", False),
    (
        "Call +44 20 7946 0958.",
        "Call plus four four, two zero, seven nine four six, zero nine five eight.",
        False,
    ),
    ("Version 2.3.1 is out.", "Version two point three point one is out.", False),
    (
        "Update to v2024.11.2 today.",
        "Update to version twenty twenty-four point eleven point two today.",
        False,
    ),
    (
        "Open 192.168.1.10 in a browser.",
        "Open one hundred ninety-two dot one hundred sixty-eight dot one dot ten in a browser.",
        False,
    ),
    (
        "Open homeassistant.local:8123 now.",
        "Open homeassistant dot local port eight one two three now.",
        False,
    ),
    (
        "See https://www.home-assistant.io/docs/voice for more.",
        "See home assistant dot io slash docs slash voice for more.",
        False,
    ),
    (
        "Write to john.doe@example.com today.",
        "Write to john dot doe at example dot com today.",
        False,
    ),
    ("Check light.living_room now.", "Check light dot living room now.", False),
    # abbreviations
    ("Dr. Smith lives on Main St.", "Doctor Smith lives on Main Street.", False),
    ("St. Louis is far.", "Saint Louis is far.", False),
    ("Mr. and Mrs. Jones are home.", "Mister and Missus Jones are home.", False),
    ("It is red vs. blue.", "It is red versus blue.", False),
    ("It takes approx. 5 min.", "It takes approximately five minutes.", True),
    ("Buy milk, eggs, etc.", "Buy milk, eggs, et cetera.", False),
    # symbols
    ("Tom & Jerry are here.", "Tom and Jerry are here.", True),
    ("Two + two is four.", "Two plus two is four.", True),
    ("Add 1 + 2.", "Add one plus two.", False),
    ("Meet me @ home.", "Meet me at home.", False),
    ("This is #5 on the list.", "This is number five on the list.", True),
    ("Switch the lights on/off.", "Switch the lights on or off.", True),
    ("The A/C is on and the value is N/A.", "The A.C. is on and the value is N.A.", False),
    ("Cost is $5/month.", "Cost is five dollars per month.", False),
    ("Usage is 6.5 kWh/day.", "Usage is six point five kilowatt hours per day.", False),
    ("It's a 50/50 chance.", "It's a fifty-fifty chance.", False),
    (
        "It was left at 12 Main St. The gate is at 40 Oak Dr. Call Dr. Lee in St. Louis.",
        "It was left at twelve Main Street. The gate is at forty Oak Drive. Call Doctor Lee "
        "in Saint Louis.",
        False,
    ),
    (
        "Sunrise is 07:42:00, the alarm is set for 06:30:00, the timer is 00:05:00.",
        "Sunrise is seven forty-two AM, the alarm is set for six thirty AM, the timer is five "
        "minutes.",
        False,
    ),
    (
        "Node 0x1A is at 2700K; 5 * 3 => 15.",
        "Node hex one A is at two thousand seven hundred kelvin; five times three to fifteen.",
        False,
    ),  # fmt: skip
    (
        "Away May 12-14, and 24–26 Dec 2026.",
        "Away May twelfth to fourteenth, and December "
        "twenty-fourth to twenty-sixth, twenty twenty-six.",
        False,
    ),  # fmt: skip
    ("Lights and/or fans.", "Lights and or fans.", False),
    (
        "Temp: 21.5°C / 70.7°F.",
        "Temp: twenty-one point five degrees Celsius or seventy point seven degrees Fahrenheit.",
        False,
    ),
    (
        "Mon: 12 °C, Tue: 14 °C, Wed: 9 °C.",
        "Monday: twelve degrees Celsius, Tuesday: fourteen degrees Celsius, "
        "Wednesday: nine degrees Celsius.",
        False,
    ),
    (
        "Open Thu-Sat, and Fri, Sat and Sun.",
        "Open Thursday to Saturday, and Friday, Saturday and Sunday.",
        False,
    ),  # fmt: skip
    ("We sat in the sun. Sun is a star.", "We sat in the sun. Sun is a star.", False),
    ("Open hours are 9am-5pm.", "Open hours are nine AM to five PM.", False),
    ("Quiet from 22:00-07:00.", "Quiet from ten PM to seven AM.", False),
    ("The timer has 45s left.", "The timer has forty-five seconds left.", False),
    (
        "It ends in 1h 20m, or 5 mins.",
        "It ends in one hour and twenty minutes, or five minutes.",
        False,
    ),  # fmt: skip
    (
        "Add 1½ cups, then 1 1/2 cups.",
        "Add one and a half cups, then one and a half cups.",
        False,
    ),  # fmt: skip
    ("E.g., the hallway light.", "For example, the hallway light.", False),
    ("It is 20.0 °C and 1.0 kWh.", "It is twenty degrees Celsius and one kilowatt hour.", False),
    ("Add 1/2 cup of sugar.", "Add one half cup of sugar.", False),
    ("We are 3/4 of the way there.", "We are three quarters of the way there.", False),
    ("The store is open 24/7.", "The store is open twenty-four seven.", False),
    # a sentence's final period is not part of a number; prose is not a unit
    ("Go to 10.0.0.1.", "Go to ten dot zero dot zero dot one.", False),
    ("Update to 1.2.3.", "Update to one point two point three.", False),
    (
        "Her birthday is 25.12.2024.",
        "Her birthday is December twenty-fifth, twenty twenty-four.",
        False,
    ),
    ("Read pages 10-20.", "Read pages ten to twenty.", False),
    ("Turn on switch.kitchen_light_2.", "Turn on switch dot kitchen light two.", False),
    ("Power rose to 1800 W.", "Power rose to one thousand eight hundred watts.", False),
    ("Turn left in 1500 m.", "Turn left in one thousand five hundred meters.", False),
    ("Only 2 may enter the room.", "Only two may enter the room.", False),
    ("The party is on the 5th of June.", "The party is on the fifth of June.", False),
    ("Timer: 00:05:00.", "Timer: five minutes.", False),
    (
        "It lasted 1:23:45.",
        "It lasted one hour twenty-three minutes and forty-five seconds.",
        False,
    ),
    ("1 in 3 people agree.", "One in three people agree.", False),
    ("I have 2 A grades.", "I have two A grades.", False),
    ("Use 2 l of water.", "Use two liters of water.", False),
    ("It is a 5 min walk.", "It is a five minutes walk.", False),
    ("Energy price €0.32/kWh.", "Energy price thirty-two cents per kilowatt hour.", False),
    ("Rated 4.5/5 stars.", "Rated four point five out of five stars.", False),
    (
        "Lights: 3/5 on, score 7/10, add 2/3 cup.",
        "Lights: three out of five on, score seven out of ten, add two thirds cup.",
        False,
    ),  # fmt: skip
    ("Dinner at 5.30pm.", "Dinner at five thirty PM.", False),
    ("It starts at 06:00.", "It starts at six AM.", False),
    ("It ends at 0:30.", "It ends at twelve thirty AM.", False),
    ("She is in her 20s.", "She is in her twenties.", False),
    (
        "Due 2024-11-25T10:00.",
        "Due November twenty-fifth, twenty twenty-four, at ten o'clock.",
        False,
    ),
    (
        "The screen is 1920x1080.",
        "The screen is one thousand nine hundred twenty by one thousand eighty.",
        False,
    ),
    ("The balance is -$50.", "The balance is minus fifty dollars.", False),
    ("Flash the ESP32 and the 4K TV.", "Flash the ESP32 and the 4K TV.", False),
    # acronyms stay for the G2P to spell (test_say_it_right checks how they sound)
    ("Plug in the USB cable.", "Plug in the USB cable.", False),
    ("Turn off the TV and the HVAC.", "Turn off the TV and the HVAC.", False),
    # markdown and emoji
    ("**Warning:** the door is open.", "Warning: the door is open.", False),
    ("## Today's weather", "Today's weather", False),
    ("- Turn off the *kitchen* lights", "Turn off the kitchen lights", False),
    ("1. Close the blinds.", "Close the blinds.", False),
    ("Read [the docs](https://example.com) first.", "Read the docs first.", False),
    ("Run `script/setup` first.", "Run script slash setup first.", False),
    ("Good night 🌙✨ sleep well 😴", "Good night sleep well", False),
    ("> Quoted ~~old~~ text", "Quoted old text", False),
]

# en-GB differences: spelling, "and" in numbers, day-first dates
BRITISH: list[tuple[str, str]] = [
    # 24-hour times stay 24-hour in en-GB (en-US says "six forty-five PM", "seven AM")
    (
        "The train leaves at 18:45, not 07:00.",
        "The train leaves at eighteen forty-five, not seven o'clock.",
    ),  # fmt: skip
    ("The hose is 15 m long.", "The hose is fifteen metres long."),
    ("The kettle holds 1.5 L.", "The kettle holds one point five litres."),
    ("There are 125 people.", "There are one hundred and twenty-five people."),
    ("It was due 3/4/2024.", "It was due the third of April, twenty twenty-four."),
    (
        "The party is on 2024-11-25.",
        "The party is on the twenty-fifth of November, twenty twenty-four.",
    ),
]
