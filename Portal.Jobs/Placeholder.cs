namespace Portal.Jobs; internal static class Placeholder;
