/// Prompts for `lorad bench lookahead`: code in the style of the Python standard library (what
/// fixtures/code-small was trained on: repetitive, so n-grams recur) and ordinary English prose.
enum BenchPrompts {
    static let code: [String] = [
        """
        import unittest


        class TestStringMethods(unittest.TestCase):

            def test_upper(self):
                self.assertEqual('foo'.upper(), 'FOO')

            def test_isupper(self):
                self.assertTrue('FOO'.isupper())
                self.assertFalse('Foo'.isupper())

            def test_lower(self):
        """,
        """
        class Message:
            def __init__(self, policy=None):
                self.policy = policy
                self._headers = []
                self._payload = None

            def get_payload(self):
                return self._payload

            def set_payload(self, payload):
                self._payload = payload

            def get_headers(self):
        """,
        """
        import asyncio


        async def fetch(reader, writer):
            data = await reader.read(100)
            message = data.decode()
            writer.write(data)
            await writer.drain()
            writer.close()


        async def main():
        """,
        """
        def parse_headers(fp):
            headers = []
            while True:
                line = fp.readline()
                if not line:
                    break
                if line in (b'\\r\\n', b'\\n', b''):
                    break
                headers.append(line)
            return headers


        def parse_request(self):
        """,
    ]

    static let prose: [String] = [
        "The village sat at the edge of a wide valley, where the river bent twice before it reached the sea. "
            + "In the mornings the fishermen walked down to the harbour, and in the evenings",
        "She had never liked travelling by train, but the journey north gave her time to think about the letter "
            + "her brother had sent, and about the house they had both left behind when",
        "Economists disagree about the causes of the slowdown. Some point to the rise in interest rates, others "
            + "to the fall in exports, and a few argue that the real reason is",
        "The museum opened its new wing last spring. Visitors who came for the paintings stayed for the garden, "
            + "which the architects had designed so that the light would",
    ]
}
