import { drawHouse } from '../helpers/house';

/** ARCHITECTURE.md's grid, held by the import graph (npm run house prints it). */
test('the house has no circles, and its only upward arrows are type-only imports of workflow code', () => {
  const house = drawHouse();
  expect(house.unplaced).toEqual([]);
  expect(house.roomCircles).toEqual([]);
  expect(house.fileCircles).toEqual([]);
  expect(house.upward.filter((e) => !e.typeOnly)).toEqual([]);
  expect(house.upward.filter((e) => e.typeOnly).map((e) => `${e.from} -> ${e.to}`)).toEqual(['workflows -> activities']);
});
