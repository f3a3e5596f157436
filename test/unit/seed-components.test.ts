import { describe, expect, it } from 'vitest';
import { selectComponents } from '../../local/seed/components.js';

describe('selectComponents', () => {
  it('selects every part when no selection is given', () => {
    // Arrange
    const selection = undefined;

    // Act
    const selected = selectComponents(selection);

    // Assert
    expect(selected).toEqual({ cassandra: true, minio: true, wireServer: true });
  });

  it('treats a selection as a whitelist: only the parts set to true', () => {
    // Arrange
    const selections = [{ minio: true }, { cassandra: true, wireServer: false }, {}];

    // Act
    const selected = selections.map(selectComponents);

    // Assert
    expect(selected).toEqual([
      { cassandra: false, minio: true, wireServer: false },
      { cassandra: true, minio: false, wireServer: false },
      { cassandra: false, minio: false, wireServer: false },
    ]);
  });
});
