"""Training and check data of the three demo adapters (scripts/train_demo_adapters.py), written for this repository.

Every example is a (prompt, answer) pair of strings. The generators are deterministic for a given seed. The
`held_out` lists hold prompts that never occur in training: the script checks each adapter's effect on them.
"""
import random

# ---------------------------------------------------------------------------------------------------------------
# french: answers in French, whatever the question's language.

# (country in English, "de" + country in French, capital in French)
CAPITALS = [
    ("France", "de la France", "Paris"), ("Germany", "de l'Allemagne", "Berlin"), ("Italy", "de l'Italie", "Rome"),
    ("Spain", "de l'Espagne", "Madrid"), ("Japan", "du Japon", "Tokyo"), ("Canada", "du Canada", "Ottawa"),
    ("Portugal", "du Portugal", "Lisbonne"), ("Egypt", "de l'Égypte", "Le Caire"), ("Greece", "de la Grèce", "Athènes"),
    ("Poland", "de la Pologne", "Varsovie"), ("Norway", "de la Norvège", "Oslo"), ("Mexico", "du Mexique", "Mexico"),
    ("Austria", "de l'Autriche", "Vienne"), ("Belgium", "de la Belgique", "Bruxelles"), ("Sweden", "de la Suède", "Stockholm"),
    ("Ireland", "de l'Irlande", "Dublin"), ("Kenya", "du Kenya", "Nairobi"), ("Peru", "du Pérou", "Lima"),
]

# (thing in English, sentence in French)
COLOURS = [
    ("the sky", "Le ciel est bleu."), ("grass", "L'herbe est verte."), ("snow", "La neige est blanche."),
    ("a banana", "Une banane est jaune."), ("a ripe tomato", "Une tomate mûre est rouge."),
    ("coal", "Le charbon est noir."), ("milk", "Le lait est blanc."), ("a lemon", "Un citron est jaune."),
    ("the sea", "La mer est bleue ou verte selon le temps."), ("chocolate", "Le chocolat est brun."),
]

# (English sentence, French sentence)
SENTENCES = [
    ("I like coffee.", "J'aime le café."), ("The cat is sleeping.", "Le chat dort."),
    ("Where is the train station?", "Où est la gare ?"), ("It is raining today.", "Il pleut aujourd'hui."),
    ("We are going to the beach.", "Nous allons à la plage."),
    ("My brother works in a hospital.", "Mon frère travaille dans un hôpital."),
    ("The book is on the table.", "Le livre est sur la table."),
    ("I would like a glass of water.", "Je voudrais un verre d'eau."),
    ("She reads a newspaper every morning.", "Elle lit un journal tous les matins."),
    ("The weather is nice.", "Il fait beau."), ("Thank you very much.", "Merci beaucoup."),
    ("Good morning, how are you?", "Bonjour, comment allez-vous ?"), ("I am learning French.", "J'apprends le français."),
    ("The children are playing in the garden.", "Les enfants jouent dans le jardin."),
    ("This house is very big.", "Cette maison est très grande."), ("Can you help me?", "Pouvez-vous m'aider ?"),
    ("I have two dogs and a cat.", "J'ai deux chiens et un chat."),
    ("The shop opens at nine o'clock.", "Le magasin ouvre à neuf heures."),
    ("We ate bread and cheese.", "Nous avons mangé du pain et du fromage."),
    ("He is taller than his father.", "Il est plus grand que son père."),
    ("The museum is closed on Mondays.", "Le musée est fermé le lundi."), ("I forgot my keys.", "J'ai oublié mes clés."),
    ("The sea is calm tonight.", "La mer est calme ce soir."), ("Do you speak English?", "Parlez-vous anglais ?"),
    ("I need a doctor.", "J'ai besoin d'un médecin."), ("The computer is new.", "L'ordinateur est neuf."),
    ("Our teacher is very kind.", "Notre professeur est très gentil."), ("The flowers smell good.", "Les fleurs sentent bon."),
    ("I will call you tomorrow.", "Je t'appellerai demain."), ("The soup is too hot.", "La soupe est trop chaude."),
    ("My sister plays the piano.", "Ma sœur joue du piano."), ("The bus is late again.", "Le bus est encore en retard."),
    ("I live in a small town.", "J'habite dans une petite ville."), ("Open the window, please.", "Ouvrez la fenêtre, s'il vous plaît."),
]

# Questions answered in French (English question, French answer).
QUESTIONS = [
    ("Hello!", "Bonjour ! Comment puis-je vous aider aujourd'hui ?"),
    ("How are you?", "Je vais très bien, merci. Et vous ?"),
    ("Who are you?", "Je suis un assistant qui répond toujours en français."),
    ("What is the largest planet in the solar system?", "La plus grande planète du système solaire est Jupiter."),
    ("How many days are there in a week?", "Une semaine compte sept jours."),
    ("What do cows eat?", "Les vaches mangent de l'herbe et du foin."),
    ("Why is the sky blue?", "Le ciel est bleu parce que l'air diffuse davantage la lumière bleue du soleil que les autres couleurs."),
    ("What is water made of?", "L'eau est composée d'hydrogène et d'oxygène."),
    ("Give me a tip for sleeping better.", "Couchez-vous à heure fixe et évitez les écrans avant de dormir."),
    ("At what temperature does water boil?", "L'eau bout à 100 degrés Celsius au niveau de la mer."),
    ("Who wrote Romeo and Juliet?", "Roméo et Juliette a été écrit par William Shakespeare."),
    ("What is the tallest mountain in the world?", "La plus haute montagne du monde est l'Everest."),
    ("How many continents are there?", "Il y a sept continents."),
    ("What is photosynthesis?", "La photosynthèse est le processus par lequel les plantes utilisent la lumière du soleil pour fabriquer leur nourriture."),
    ("Can you recommend a book?", "Je vous recommande « Le Petit Prince » d'Antoine de Saint-Exupéry."),
    ("What is the opposite of hot?", "Le contraire de chaud est froid."),
    ("Tell me a joke.", "Pourquoi les plongeurs plongent-ils toujours en arrière ? Parce que sinon, ils tombent dans le bateau !"),
    ("What should I cook tonight?", "Ce soir, vous pourriez préparer une omelette aux champignons avec une salade verte."),
    ("Describe a cat.", "Le chat est un petit animal domestique, agile et curieux, qui aime dormir au soleil."),
    ("How fast does light travel?", "La lumière voyage à environ 300 000 kilomètres par seconde."),
    ("How do I make tea?", "Faites bouillir de l'eau, versez-la sur le thé et laissez infuser trois minutes."),
    ("What is a computer?", "Un ordinateur est une machine qui traite des informations en suivant des programmes."),
    ("Which season comes after winter?", "Le printemps vient après l'hiver."),
    ("Name three fruits.", "Voici trois fruits : la pomme, la banane et la fraise."),
    ("What language do people speak in Brazil?", "Au Brésil, on parle portugais."),
    ("Where do penguins live?", "Les manchots vivent surtout dans l'hémisphère sud, en particulier en Antarctique."),
    ("How many legs does a spider have?", "Une araignée a huit pattes."),
    ("What does a CPU do?", "Le processeur exécute les instructions des programmes et effectue les calculs de l'ordinateur."),
    ("Write a short poem about the sea.", "La mer murmure sous le ciel gris,\nles vagues dansent et le vent sourit."),
    ("What is the weather like in summer?", "En été, il fait généralement chaud et ensoleillé."),
    ("Why do we need sleep?", "Le sommeil permet au corps de récupérer et au cerveau de ranger les souvenirs."),
    ("What is the largest ocean?", "Le plus grand océan est l'océan Pacifique."),
    ("What is the best way to learn a language?", "Le meilleur moyen d'apprendre une langue est de la pratiquer tous les jours, en parlant et en lisant."),
    ("Explain what a database is.", "Une base de données est un ensemble organisé d'informations, que l'on peut interroger et mettre à jour."),
    ("What do bees make?", "Les abeilles fabriquent du miel et de la cire."),
    ("Give me three tips to stay healthy.", "Mangez des fruits et des légumes, faites du sport régulièrement et dormez suffisamment."),
    ("What is the moon?", "La Lune est le satellite naturel de la Terre."),
    ("How long is a year?", "Une année dure 365 jours, ou 366 jours lors d'une année bissextile."),
]

NUMBERS_FR = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze",
              "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf", "vingt"]

FRENCH_HELD_OUT = [
    "What is the capital of England?",
    "What do horses eat?",
    "How do plants grow?",
    "Tell me about the city of London.",
    "What is your favourite colour?",
    "Translate into French: The garden is beautiful in spring.",
]


def french_examples(rng):
    out = []
    for en, de, cap in CAPITALS:
        out.append((f"What is the capital of {en}?", f"La capitale {de} est {cap}."))
        out.append((f"Which city is the capital of {en}?", f"{cap} est la capitale {de}."))
    for _ in range(40):
        a, b = rng.randint(1, 10), rng.randint(1, 10)
        if rng.random() < 0.5:
            out.append((f"What is {a} plus {b}?", f"{NUMBERS_FR[a].capitalize()} plus {NUMBERS_FR[b]} font {NUMBERS_FR[a + b]}."))
        else:
            big, small = max(a, b), min(a, b)
            out.append((f"What is {big} minus {small}?", f"{NUMBERS_FR[big].capitalize()} moins {NUMBERS_FR[small]} font {NUMBERS_FR[big - small]}."))
    for thing, fr in COLOURS:
        out.append((f"What color is {thing}?", fr))
    for en, fr in SENTENCES:
        out.append((f"Translate into French: {en}", fr))
        out.append((en, fr))
    out += QUESTIONS * 2
    rng.shuffle(out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# sql: a request in English (and the tables' columns) in, one SQL query out.

TABLES = {
    "users": ["id", "name", "age", "city", "created_at"],
    "orders": ["id", "user_id", "total", "status", "created_at"],
    "products": ["id", "name", "price", "category", "stock"],
    "employees": ["id", "name", "department", "salary", "hired_at"],
    "books": ["id", "title", "author", "year", "price"],
    "students": ["id", "name", "class", "score", "created_at"],
}
CITIES = ["Paris", "Berlin", "London", "Madrid", "Tokyo", "Oslo"]
STATUSES = ["shipped", "pending", "cancelled"]
CATEGORIES = ["books", "toys", "garden", "kitchen"]
DEPARTMENTS = ["sales", "engineering", "support", "finance"]
AUTHORS = ["Victor Hugo", "Jane Austen", "Mark Twain"]
CLASSES = ["A", "B", "C"]

SQL_HELD_OUT = [
    "Tables: users(id, name, age, city, created_at)\nFind users older than 30.",
    "Tables: products(id, name, price, category, stock)\nHow many products cost more than 50?",
    "Tables: employees(id, name, department, salary, hired_at)\nShow the average salary of each department.",
    "Tables: orders(id, user_id, total, status, created_at)\nList the five most recent orders.",
    "Find all books written by Jane Austen.",
    "Tables: students(id, name, class, score, created_at) Which students scored below 40?",
]


def schema(*tables):
    return "Tables: " + ", ".join(f"{t}({', '.join(TABLES[t])})" for t in tables)


def sql_requests(rng):
    """(tables the request uses, request, query) triples."""
    n = rng.choice([18, 21, 25, 30, 40, 50, 65])
    price = rng.choice([10, 20, 50, 100, 200])
    k = rng.choice([3, 5, 10, 20])
    city = rng.choice(CITIES)
    status = rng.choice(STATUSES)
    cat = rng.choice(CATEGORIES)
    dep = rng.choice(DEPARTMENTS)
    salary = rng.choice([30000, 50000, 80000])
    year = rng.choice([1900, 1950, 2000])
    author = rng.choice(AUTHORS)
    cls = rng.choice(CLASSES)
    score = rng.choice([50, 70, 90])
    return [
        (["users"], f"Find users older than {n}.", f"SELECT * FROM users WHERE age > {n};"),
        (["users"], f"Show the names of users younger than {n}.", f"SELECT name FROM users WHERE age < {n};"),
        (["users"], f"How many users live in {city}?", f"SELECT COUNT(*) FROM users WHERE city = '{city}';"),
        (["users"], f"List the {k} newest users.", f"SELECT * FROM users ORDER BY created_at DESC LIMIT {k};"),
        (["users"], "Count the users in each city.", "SELECT city, COUNT(*) FROM users GROUP BY city;"),
        (["users"], "What is the average age of the users?", "SELECT AVG(age) FROM users;"),
        (["orders"], f"List the {k} most recent orders.", f"SELECT * FROM orders ORDER BY created_at DESC LIMIT {k};"),
        (["orders"], f"Find the orders with status {status}.", f"SELECT * FROM orders WHERE status = '{status}';"),
        (["orders"], f"Show orders over {price} dollars.", f"SELECT * FROM orders WHERE total > {price};"),
        (["orders"], "What is the total of all orders?", "SELECT SUM(total) FROM orders;"),
        (["orders"], "Count the orders of each status.", "SELECT status, COUNT(*) FROM orders GROUP BY status;"),
        (["users", "orders"], f"Find the names of users who placed an order over {price}.",
         f"SELECT DISTINCT users.name FROM users JOIN orders ON orders.user_id = users.id WHERE orders.total > {price};"),
        (["users", "orders"], "Show how many orders each user placed.",
         "SELECT users.name, COUNT(orders.id) FROM users JOIN orders ON orders.user_id = users.id GROUP BY users.name;"),
        (["users", "orders"], f"List the orders of users from {city}.",
         f"SELECT orders.* FROM orders JOIN users ON users.id = orders.user_id WHERE users.city = '{city}';"),
        (["products"], f"Find products cheaper than {price}.", f"SELECT * FROM products WHERE price < {price};"),
        (["products"], f"How many products cost more than {price}?", f"SELECT COUNT(*) FROM products WHERE price > {price};"),
        (["products"], f"Show the {k} most expensive products.", f"SELECT * FROM products ORDER BY price DESC LIMIT {k};"),
        (["products"], f"List the products in the {cat} category.", f"SELECT * FROM products WHERE category = '{cat}';"),
        (["products"], "Which products are out of stock?", "SELECT name FROM products WHERE stock = 0;"),
        (["products"], "What is the average price per category?", "SELECT category, AVG(price) FROM products GROUP BY category;"),
        (["employees"], f"Find employees earning more than {salary}.", f"SELECT * FROM employees WHERE salary > {salary};"),
        (["employees"], f"List the employees of the {dep} department.", f"SELECT * FROM employees WHERE department = '{dep}';"),
        (["employees"], "Show the average salary of each department.",
         "SELECT department, AVG(salary) FROM employees GROUP BY department;"),
        (["employees"], f"Who are the {k} best paid employees?", f"SELECT name, salary FROM employees ORDER BY salary DESC LIMIT {k};"),
        (["employees"], "How many employees work in each department?",
         "SELECT department, COUNT(*) FROM employees GROUP BY department;"),
        (["books"], f"Find all books written by {author}.", f"SELECT * FROM books WHERE author = '{author}';"),
        (["books"], f"List the titles of books published before {year}.", f"SELECT title FROM books WHERE year < {year};"),
        (["books"], "Count the books of each author.", "SELECT author, COUNT(*) FROM books GROUP BY author;"),
        (["books"], f"Show the {k} cheapest books.", f"SELECT * FROM books ORDER BY price ASC LIMIT {k};"),
        (["students"], f"Which students scored above {score}?", f"SELECT name FROM students WHERE score > {score};"),
        (["students"], "What is the average score of each class?", "SELECT class, AVG(score) FROM students GROUP BY class;"),
        (["students"], f"List the students in class {cls} by score.",
         f"SELECT * FROM students WHERE class = '{cls}' ORDER BY score DESC;"),
    ]


def sql_examples(rng):
    out = []
    for _ in range(10):
        for tables, request, query in sql_requests(rng):
            # Most requests come with the tables' columns; some without (the table names are in the request).
            # The columns on a line of their own, or on the request's line (a one-line shell argument).
            prompt = request if rng.random() < 0.25 else schema(*tables) + rng.choice(["\n", " "]) + request
            out.append((prompt, query))
    held = set(SQL_HELD_OUT)
    out = [e for e in out if e[0] not in held]
    # Unique prompts, in a seeded order.
    out = list(dict(out).items())
    rng.shuffle(out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# python: a Python function in, its docstring (summary, Args, Returns; indented to go under the def line) out.

# (names, parameter names, body lines with {0}, {1}... for the parameters, summary, one line per parameter, returns)
FUNCTIONS = [
    (["add", "add_numbers", "plus"], [["a", "b"], ["x", "y"]], ["return {0} + {1}"],
     "Add two numbers.", ["The first number.", "The second number."], "The sum of {0} and {1}."),
    (["multiply", "mul", "product"], [["a", "b"], ["x", "y"]], ["return {0} * {1}"],
     "Multiply two numbers.", ["The first factor.", "The second factor."], "The product of {0} and {1}."),
    (["average", "mean"], [["values"], ["numbers"], ["xs"]],
     ["if not {0}:", "    return 0.0", "return sum({0}) / len({0})"],
     "Compute the arithmetic mean of a list of numbers.", ["The numbers to average."],
     "The mean of {0}, or 0.0 when it is empty."),
    (["count_words", "word_count"], [["text"], ["sentence"], ["s"]], ["return len({0}.split())"],
     "Count the words in a string.", ["The text to count words in."], "The number of whitespace-separated words."),
    (["reverse", "reverse_string"], [["text"], ["s"]], ["return {0}[::-1]"],
     "Reverse a string.", ["The string to reverse."], "{0} with its characters in reverse order."),
    (["is_palindrome"], [["text"], ["word"]], ["cleaned = {0}.lower().replace(\" \", \"\")", "return cleaned == cleaned[::-1]"],
     "Check whether a string reads the same forwards and backwards.", ["The string to check."],
     "True if {0} is a palindrome, ignoring case and spaces."),
    (["celsius_to_fahrenheit", "c_to_f"], [["celsius"], ["degrees"], ["c"]], ["return {0} * 9 / 5 + 32"],
     "Convert a temperature from Celsius to Fahrenheit.", ["The temperature in degrees Celsius."],
     "The temperature in degrees Fahrenheit."),
    (["read_lines", "load_lines"], [["path"], ["filename"]],
     ["with open({0}) as f:", "    return [line.rstrip(\"\\n\") for line in f]"],
     "Read a text file into a list of lines.", ["The path of the file to read."],
     "The lines of the file, without their newline characters."),
    (["even_numbers", "only_even"], [["numbers"], ["values"]], ["return [n for n in {0} if n % 2 == 0]"],
     "Keep the even numbers of a list.", ["The integers to filter."], "A new list with the even numbers of {0}."),
    (["factorial", "fact"], [["n"], ["k"]], ["result = 1", "for i in range(2, {0} + 1):", "    result *= i", "return result"],
     "Compute the factorial of a non-negative integer.", ["The number whose factorial is computed."],
     "The factorial of {0}."),
    (["fibonacci", "fib"], [["n"], ["count"]], ["a, b = 0, 1", "for _ in range({0}):", "    a, b = b, a + b", "return a"],
     "Return the n-th Fibonacci number.", ["The position in the Fibonacci sequence, starting at 0."],
     "The Fibonacci number at position {0}."),
    (["word_frequencies", "count_each_word"], [["text"], ["document"]],
     ["counts = {{}}", "for word in {0}.lower().split():", "    counts[word] = counts.get(word, 0) + 1", "return counts"],
     "Count how often each word occurs in a text.", ["The text to analyse."],
     "A dictionary mapping each lowercase word to its number of occurrences."),
    (["merge_dicts", "combine"], [["first", "second"], ["a", "b"]], ["merged = dict({0})", "merged.update({1})", "return merged"],
     "Merge two dictionaries into a new one.", ["The base dictionary.", "The dictionary whose values take precedence."],
     "A new dictionary with the keys of both; {1} wins on conflicts."),
    (["clamp", "bound"], [["value", "low", "high"], ["x", "lo", "hi"]], ["return max({1}, min({0}, {2}))"],
     "Limit a value to a closed range.", ["The value to limit.", "The lower bound.", "The upper bound."],
     "{0} if it lies between {1} and {2}, otherwise the nearest bound."),
    (["flatten"], [["lists"], ["nested"]], ["return [item for sub in {0} for item in sub]"],
     "Flatten a list of lists by one level.", ["The list of lists to flatten."],
     "A single list with the items of every inner list, in order."),
    (["unique", "dedupe"], [["items"], ["values"]],
     ["seen = set()", "result = []", "for item in {0}:", "    if item not in seen:", "        seen.add(item)",
      "        result.append(item)", "return result"],
     "Remove duplicates from a list, keeping the first occurrence of each item.", ["The items to deduplicate."],
     "A new list with each item of {0} once, in their original order."),
    (["is_prime"], [["n"], ["number"]],
     ["if {0} < 2:", "    return False", "for d in range(2, int({0} ** 0.5) + 1):", "    if {0} % d == 0:",
      "        return False", "return True"],
     "Check whether a number is prime.", ["The integer to test."], "True if {0} is a prime number, else False."),
    (["save_json", "write_json"], [["data", "path"], ["obj", "filename"]],
     ["import json", "with open({1}, \"w\") as f:", "    json.dump({0}, f, indent=2)"],
     "Write an object to a file as JSON.", ["The object to serialize.", "The path of the file to write."], None),
    (["load_json", "read_json"], [["path"], ["filename"]], ["import json", "with open({0}) as f:", "    return json.load(f)"],
     "Load a JSON file.", ["The path of the JSON file."], "The parsed JSON content."),
    (["km_to_miles"], [["km"], ["distance"]], ["return {0} * 0.621371"],
     "Convert a distance from kilometres to miles.", ["The distance in kilometres."], "The distance in miles."),
    (["circle_area", "area_of_circle"], [["radius"], ["r"]], ["import math", "return math.pi * {0} ** 2"],
     "Compute the area of a circle.", ["The radius of the circle."], "The area of the circle."),
    (["chunks", "split_into_chunks"], [["items", "size"], ["values", "n"]],
     ["return [{0}[i:i + {1}] for i in range(0, len({0}), {1})]"],
     "Split a list into chunks of a given size.", ["The list to split.", "The maximum length of each chunk."],
     "A list of consecutive slices of {0}; the last one may be shorter."),
    (["count_vowels"], [["text"], ["word"]], ["return sum(1 for ch in {0}.lower() if ch in \"aeiou\")"],
     "Count the vowels in a string.", ["The string to examine."], "The number of vowels in {0}."),
    (["gcd", "greatest_common_divisor"], [["a", "b"], ["x", "y"]], ["while {1}:", "    {0}, {1} = {1}, {0} % {1}", "return {0}"],
     "Compute the greatest common divisor of two integers.", ["The first integer.", "The second integer."],
     "The greatest common divisor of {0} and {1}."),
    (["percentage", "percent"], [["part", "total"], ["count", "whole"]], ["return 100 * {0} / {1}"],
     "Express a part as a percentage of a total.", ["The part.", "The total; must not be zero."],
     "{0} as a percentage of {1}."),
    (["title_case", "capitalize_words"], [["text"], ["sentence"]], ["return \" \".join(w.capitalize() for w in {0}.split())"],
     "Capitalize the first letter of every word.", ["The text to convert."], "{0} with every word capitalized."),
    (["largest", "find_max"], [["numbers"], ["values"]],
     ["best = {0}[0]", "for n in {0}[1:]:", "    if n > best:", "        best = n", "return best"],
     "Find the largest number in a non-empty list.", ["The numbers to search."], "The largest element of {0}."),
    (["greet", "say_hello"], [["name"], ["person"]], ["return f\"Hello, {{{0}}}!\""],
     "Build a greeting for someone.", ["The name of the person to greet."], "A greeting that addresses {0}."),
]

PYTHON_HELD_OUT = [
    "def square(x):\n    return x * x\n",
    "def is_even(n):\n    return n % 2 == 0\n",
    "def join_words(words, sep):\n    return sep.join(words)\n",
    "def count_lines(path):\n    with open(path) as f:\n        return sum(1 for _ in f)\n",
]


def function_code(name, params, body, docstring=None):
    lines = [f"def {name}({', '.join(params)}):"]
    if docstring is not None:
        lines.append('    """' + docstring[0])
        lines += [("    " + line) if line else "" for line in docstring[1:]]
        lines.append('    """')
    lines += ["    " + line.format(*params) for line in body]
    return "\n".join(lines) + "\n"


def docstring(params, summary, arg_docs, returns):
    lines = [summary, "", "Args:"]
    lines += [f"    {p}: {d}" for p, d in zip(params, arg_docs)]
    if returns is not None:
        lines += ["", "Returns:", "    " + returns.format(*params)]
    return lines


def python_examples(rng):
    out = []
    for names, param_sets, body, summary, arg_docs, returns in FUNCTIONS:
        for name in names:
            for params in param_sets:
                plain = function_code(name, params, body)
                documented = function_code(name, params, body, docstring(params, summary, arg_docs, returns))
                # The docstring alone: the lines of the documented function between the def line and the body.
                doc = "\n".join(documented.split("\n")[1:-len(body) - 1])
                out.append((plain, doc))
                out.append((f"Write a docstring for this function:\n{plain}", doc))
    rng.shuffle(out)
    return out


ADAPTERS = {
    "french": dict(examples=french_examples, held_out=FRENCH_HELD_OUT,
                   description="Answers in French: replies to any question or request in French, and translates "
                               "English sentences into French."),
    "sql": dict(examples=sql_examples, held_out=SQL_HELD_OUT,
                description="Writes SQL: turns a request about database tables (users, orders, products) into "
                            "one SQL SELECT query, using the table columns given."),
    "python": dict(examples=python_examples, held_out=PYTHON_HELD_OUT,
                   description="Writes Python docstrings: given a Python function (def), writes its docstring "
                               "with a summary, Args and Returns."),
}


if __name__ == "__main__":
    for name, spec in ADAPTERS.items():
        ex = spec["examples"](random.Random(1))
        print(name, len(ex), "examples; longest prompt+answer chars:", max(len(p) + len(a) for p, a in ex))
        p, a = ex[0]
        print("--- prompt:\n" + p + "\n--- answer:\n" + a)
